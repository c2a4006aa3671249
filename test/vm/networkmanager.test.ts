import { defineVmSuite } from './suite.js';

// NetworkManager (keyfiles): the core scenarios only, to keep the VM suite inside its CI budget
// (static context on IDE and on virtio with predictable names, Snooze MAC rule, no CD, broken context).
defineVmSuite('networkmanager', ['ide', 'virtio', 'snooze', 'no-cd', 'broken']);
