import { defineVmSuite } from './suite.js';

// systemd-networkd + systemd-resolved. Full matrix.
defineVmSuite('networkd');
