/**
 * Image roots laid out as Debian/RHEL installers and cloud images leave them (contents as shipped:
 * debian-installer's /etc/network/interfaces, cloud-init's 50-cloud-init files, NetworkManager's and
 * systemd's vendor files), for the distro-neutralisation goldens.
 */
import type { Context } from '../../lib/context/model.js';
import type { BackendName, SystemNic } from '../../agent/src/types/network.js';
import { SNOOZE_MAC, nic, snoozeContext, twoNicContext } from './fixtures.js';
import { link, put } from './helpers.js';

export interface DistroCase {
  name: string;
  backend: BackendName;
  ctx: () => Context;
  nics: SystemNic[];
  build: (root: string) => void;
}

/** debian-installer (bookworm), one NIC, DHCP: its /etc/network/interfaces verbatim. */
export const DEBIAN_INSTALLER_INTERFACES = `# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug eth0
iface eth0 inet dhcp
# This is an autoconfigured IPv6 interface
iface eth0 inet6 auto
`;

/** cloud-init's ENI output (Debian genericcloud), two NICs on one auto line, with a continuation. */
const CLOUD_INIT_ENI = `# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.  To disable cloud-init's
# network configuration capabilities, write a file
# /etc/cloud/cloud.cfg.d/99-disable-network-config.cfg with the following:
# network: {config: disabled}
auto lo eth0 \\
    eth1
iface lo inet loopback

iface eth0 inet dhcp
    dns-nameservers 10.0.2.3
iface eth1 inet dhcp
`;

const ifupdown = (r: string): void => {
  put(r, 'etc/network/interfaces', DEBIAN_INSTALLER_INTERFACES);
  put(r, 'etc/network/interfaces.d/50-cloud-init', CLOUD_INIT_ENI);
  put(r, 'etc/network/interfaces.d/60-eth1-extra', 'iface eth1 inet6 auto\n');
  put(r, 'usr/sbin/ifup');
};

const networkd = (r: string): void => {
  // A catch-all that sorts before ours (the case), one that sorts after, one for another MAC,
  // a masked vendor file, and Debian's own container files.
  put(r, 'etc/systemd/network/05-wired.network', '[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n');
  put(r, 'etc/systemd/network/20-wired-late.network', '[Match]\nType=ether\n\n[Network]\nDHCP=yes\n');
  put(r, 'etc/systemd/network/02-other.network', '[Match]\nMACAddress=52:54:00:99:99:99\n\n[Network]\nDHCP=yes\n');
  put(r, 'usr/lib/systemd/network/03-vendor.network', '[Match]\nName=*\n\n[Network]\nDHCP=yes\n');
  link(r, 'etc/systemd/network/03-vendor.network', '/dev/null');
  put(r, 'usr/lib/systemd/network/04-by-mac.network', '[Match]\nPermanentMACAddress=52:54:00:AA:00:02\n\n[Network]\nDHCP=yes\n');
  put(r, 'usr/lib/systemd/network/80-container-host0.network', '[Match]\nKind=veth\nName=host0\nVirtualization=container\n\n[Network]\nDHCP=yes\n');
};

const KEYFILE_WIRED = `[connection]
id=Wired connection 1
uuid=8f1b0ac0-7e0e-3a3b-9a0c-5a3e7b8d2c11
type=ethernet
autoconnect-priority=-999
interface-name=ens3
timestamp=1718000000

[ethernet]

[ipv4]
method=auto

[ipv6]
addr-gen-mode=stable-privacy
method=auto

[proxy]
`;

const networkmanager = (r: string): void => {
  put(r, 'etc/NetworkManager/NetworkManager.conf', '[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\nmanaged=false\n');
  put(r, 'etc/NetworkManager/system-connections/Wired connection 1.nmconnection', KEYFILE_WIRED);
  put(
    r,
    'etc/NetworkManager/system-connections/office.nmconnection',
    '[connection]\nid=office\nuuid=0b2c6f0e-1111-4c9b-8e43-2f1d2f0b7a10\ntype=ethernet\nautoconnect=true\n\n[ethernet]\nmac-address=52:54:00:AA:00:02\n\n[ipv4]\nmethod=manual\naddress1=192.0.2.10/24\n',
  );
  put(r, 'etc/NetworkManager/system-connections/lab.nmconnection', '[connection]\nid=lab\ntype=ethernet\ninterface-name=ens9\n\n[ipv4]\nmethod=auto\n');
  put(r, 'etc/NetworkManager/system-connections/home.nmconnection', '[connection]\nid=home\ntype=wifi\ninterface-name=ens3\n\n[wifi]\nssid=home\n');
};

/** CentOS 7 GenericCloud's ifcfg-eth0 verbatim, a route file, and a second NIC's file. */
const CENTOS_IFCFG_ETH0 = `DEVICE="eth0"
BOOTPROTO="dhcp"
ONBOOT="yes"
TYPE="Ethernet"
USERCTL="yes"
PEERDNS="yes"
IPV6INIT="no"
PERSISTENT_DHCLIENT="1"
`;

const ifcfg = (r: string): void => {
  put(r, 'etc/sysconfig/network-scripts/ifcfg-eth0', CENTOS_IFCFG_ETH0);
  put(r, 'etc/sysconfig/network-scripts/route-eth0', '10.20.0.0/16 via 192.168.122.9 dev eth0\n');
  put(r, 'etc/sysconfig/network-scripts/ifcfg-lo', 'DEVICE=lo\nIPADDR=127.0.0.1\nNETMASK=255.0.0.0\nONBOOT=yes\nNAME=loopback\n');
  put(r, 'etc/sysconfig/network-scripts/ifcfg-eth1', 'DEVICE=eth1\nBOOTPROTO=dhcp\nONBOOT=yes\n');
  // NM's ifcfg-rh names profiles it saves "ifcfg-<id>": bound to our NIC by MAC only.
  put(r, 'etc/sysconfig/network-scripts/ifcfg-System_eth0', `NAME="System eth0"\nHWADDR=${SNOOZE_MAC.toUpperCase()}\nBOOTPROTO=dhcp\nONBOOT=yes\n`);
};

const netplan = (r: string): void => {
  put(r, 'etc/netplan/50-cloud-init.yaml', 'network:\n  version: 2\n  ethernets:\n    all-en:\n      match:\n        name: "en*"\n      dhcp4: true\n');
  put(r, 'usr/sbin/netplan');
  // What the netplan generator left in /run at boot for that file.
  put(r, 'run/systemd/network/10-netplan-all-en.network', '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=ipv6\n');
};

const two = [nic('ens3', '52:54:00:aa:00:01'), nic('ens4', '52:54:00:aa:00:02')];

export const DISTRO_CASES: DistroCase[] = [
  { name: 'ifupdown-debian', backend: 'ifupdown', ctx: snoozeContext, nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:12:34:56')], build: ifupdown },
  { name: 'networkd-catchall', backend: 'networkd', ctx: twoNicContext, nics: two, build: networkd },
  { name: 'networkmanager', backend: 'networkmanager', ctx: twoNicContext, nics: two, build: networkmanager },
  { name: 'ifcfg-centos7', backend: 'ifcfg', ctx: snoozeContext, nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:12:34:56')], build: ifcfg },
  { name: 'networkmanager-rhel-ifcfg', backend: 'networkmanager', ctx: snoozeContext, nics: [nic('eth0', SNOOZE_MAC), nic('eth1', '52:54:00:12:34:56')], build: ifcfg },
  { name: 'netplan-cloud-init', backend: 'netplan', ctx: snoozeContext, nics: [nic('ens3', SNOOZE_MAC), nic('ens4', '52:54:00:12:34:56')], build: netplan },
];
