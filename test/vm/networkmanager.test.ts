import { defineVmSuite } from './suite.js';

// NetworkManager as packaged (auto-default on) plus a saved profile bound to eth0, D-Bus. The core
// scenarios only, to keep the VM suite inside its CI budget: static context on IDE (eth0: the saved
// profile) and on virtio with predictable names (the auto-default), its second boot, Snooze MAC rule,
// two NICs, no CD, broken context.
defineVmSuite('networkmanager', ['ide', 'virtio', 'second-boot', 'snooze', 'two-nics', 'no-cd', 'broken']);
