import { defineVmSuite } from './suite.js';

// systemd-networkd with a catch-all DHCP .network file as image builders ship, systemd-resolved with
// the stub resolv.conf, D-Bus. Full matrix.
defineVmSuite('networkd');
