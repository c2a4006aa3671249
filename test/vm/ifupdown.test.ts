import { ALL_SCENARIOS, defineVmSuite } from './suite.js';

// Debian's default stack as the installer leaves it: /etc/network/interfaces with the NIC's DHCP stanza
// (sourcing interfaces.d), isc-dhcp-client, D-Bus. Full matrix, plus the agent started from rc.local
// (the classic way on ifupdown systems): the only scenario where the live reconfiguration path runs;
// and a zisofs CD, the one the agent must read through the kernel's mount instead of its own reader.
defineVmSuite('ifupdown', [...ALL_SCENARIOS, 'rc-local', 'zisofs']);
