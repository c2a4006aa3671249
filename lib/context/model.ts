/**
 * The context model, defined once.
 *
 * The host tools build a `Context` and serialize it to files (then an ISO); the agent reads files
 * (from the CD) and parses them back into the same `Context`. Nothing else describes a context.
 *
 * On-disk layout (all paths relative to the context root, which is the ISO root):
 *   common/network          Snooze KEY=VALUE lines (GATEWAY NETWORK BROADCAST NETMASK NAMESERVER DOMAIN SEARCH)
 *   common/routes           Snooze ifupdown lines (`up route add -net N netmask M [gw G] dev eth0`, `up route del default`)
 *   common/context.ini      extension (INI): instance id, hostname, per-NIC addresses, post-install mode
 *   common/authorized_keys  optional root SSH keys (one OpenSSH public key per line)
 *   post-install            optional script run as root by the agent
 *
 * The model holds only validated, normalised values: addresses are canonical strings, prefixes are numbers.
 */

/** An IPv4 or IPv6 address with its prefix length, e.g. { address: "192.168.122.17", prefix: 24 }. */
export interface Cidr {
  address: string;
  prefix: number;
}

/** How a NIC entry finds its interface in the guest. Interfaces are never renamed. */
export type NicMatch =
  /** By MAC address (lower-case, colon separated). The robust way. */
  | { kind: 'mac'; mac: string }
  /** By kernel name (eth0, ens3). Only sensible for single-NIC images with stable names. */
  | { kind: 'name'; name: string };

export interface Ipv4Config {
  /** Host address and prefix, e.g. 192.168.122.17/24. */
  address: Cidr;
  gateway?: string;
  /** Derived from address/prefix when absent; kept only when the context states it. */
  broadcast?: string;
}

export interface Ipv6Config {
  address: Cidr;
  gateway?: string;
}

export interface NicConfig {
  match: NicMatch;
  /** static: the addresses below; dhcp: the system's DHCP client; manual: link up, no address. */
  method: 'static' | 'dhcp' | 'manual';
  ipv4?: Ipv4Config;
  ipv6?: Ipv6Config;
  mtu?: number;
}

/**
 * The Snooze rule: a NIC whose MAC's last four bytes, read as an IPv4 address, fall inside this
 * subnet gets that address. Present when common/network gives NETWORK and NETMASK.
 */
export interface LegacySubnet {
  network: Cidr; // network address + prefix (from NETWORK + NETMASK)
  gateway?: string;
  broadcast?: string;
}

export interface Route {
  /** `add` installs a route; `delete` removes one (Snooze: `up route del default`). */
  action: 'add' | 'delete';
  /** Destination network; prefix 0 with address 0.0.0.0 is the default route. */
  destination: Cidr;
  /** Next hop. Absent = on-link (directly connected via `device`). */
  gateway?: string;
  /**
   * The device named in the context (e.g. "eth0" in Snooze routes). Resolved by the agent:
   * "eth0" in a Snooze context means the primary configured NIC, whatever its kernel name.
   */
  device?: string;
  metric?: number;
}

export interface Dns {
  nameservers: string[];
  /** Search domains in order; DOMAIN comes first when both DOMAIN and SEARCH are given. */
  search: string[];
  /** DNS domain of the host (Snooze DOMAIN). */
  domain?: string;
}

export type PostInstallMode = 'per-instance' | 'per-boot' | 'disabled';

export interface PostInstall {
  /** Script body, as bytes from the context. Run with bash. */
  script: string;
  mode: PostInstallMode;
  /** Seconds before the script is killed. */
  timeoutSec: number;
}

/**
 * What a new instance renews (docs/clone-identity.md). `[identity]` in context.ini and
 * /etc/contextualization/identity.conf can only opt out: `key = no` keeps that item as the image has it.
 */
export const IDENTITY_KEYS = ['new_machine_id', 'new_ssh_host_keys', 'new_dhcp_identity', 'new_random_seed', 'grow_root'] as const;
export type IdentityKey = (typeof IDENTITY_KEYS)[number];

export interface Context {
  /** Format version of the extension file; 1 today. Snooze-only contexts are version 1 too. */
  version: 1;
  /** Explicit instance id. When absent the agent uses a hash of the context files. */
  instanceId?: string;
  /** Short host name (RFC 1123 label) or FQDN. */
  hostname?: string;
  dns: Dns;
  /** NICs configured explicitly (extension file). */
  nics: NicConfig[];
  /** Snooze MAC->IPv4 rule; applies to NICs not configured explicitly. */
  legacySubnet?: LegacySubnet;
  routes: Route[];
  postInstall?: PostInstall;
  /** OpenSSH public key lines for root. */
  authorizedKeys: string[];
  /** `[identity]` opt-outs: the items set to `no` (false). Absent = renew everything on a new instance. */
  identity?: Partial<Record<IdentityKey, false>>;
}

/** Raw context content: relative POSIX path -> bytes. The ISO reader and directory reader both produce this. */
export type ContextFiles = Map<string, Buffer>;

export const CONTEXT_PATHS = {
  network: 'common/network',
  routes: 'common/routes',
  extension: 'common/context.ini',
  authorizedKeys: 'common/authorized_keys',
  postInstall: 'post-install',
} as const;

export const DEFAULT_POST_INSTALL_TIMEOUT_SEC = 600;
export const DEFAULT_VOLUME_LABEL = 'CONTEXT';

export function emptyContext(): Context {
  return { version: 1, dns: { nameservers: [], search: [] }, nics: [], routes: [], authorizedKeys: [] };
}
