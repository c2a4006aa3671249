import { defineVmSuite } from './suite.js';

// Debian's default stack: /etc/network/interfaces sourcing interfaces.d, isc-dhcp-client. Full matrix.
defineVmSuite('ifupdown');
