import type { Cidr, Dns } from '../../../lib/context/model.js';
import type { Note, PlannedCommand, PlannedFile } from './plan.js';

/** A NIC as the guest sees it (from /sys/class/net). */
export interface SystemNic {
  name: string;
  /** lower-case colon-separated MAC */
  mac: string;
  /** true/false from /sys/class/net/X/carrier; undefined when unreadable (link down or unknown). */
  carrier?: boolean;
  /** false for virtual devices (lo, bridges, bonds, veth, tun...): those with no /sys/class/net/X/device. */
  physical: boolean;
}

export interface ResolvedRoute {
  destination: Cidr; // 0.0.0.0/0 = default
  gateway?: string;
  metric?: number;
}

/** One NIC with everything resolved: kernel name known, addresses final, routes attached. */
export interface ResolvedNic {
  name: string;
  mac: string;
  method: 'static' | 'dhcp' | 'manual';
  ipv4?: { address: Cidr; gateway?: string; broadcast: string };
  ipv6?: { address: Cidr; gateway?: string };
  mtu?: number;
  /** Extra routes via this NIC (the default route is expressed by ipv4.gateway, never here). */
  routes: ResolvedRoute[];
  /** Route deletions a context asked for that are not simply "do not add": rendered as post-up deletes where the backend can. */
  deleteRoutes: ResolvedRoute[];
  /** The NIC "eth0" referred to in Snooze routes; carries DNS in per-link backends. */
  primary: boolean;
  /**
   * Snooze `up route del default`: this NIC must install no IPv4 default route, neither a static one
   * (ipv4.gateway is already absent) nor one learnt from DHCP. IPv6 is not affected.
   */
  neverDefault?: boolean;
}

/** The whole network to render. Input of every backend renderer. */
export interface NetworkConfig {
  nics: ResolvedNic[];
  dns: Dns;
}

export type BackendName = 'ifupdown' | 'networkd' | 'networkmanager' | 'netplan' | 'ifcfg' | 'ip';

/** Read-only view of the target system (real root or image root) for backend detection. */
export interface SystemView {
  exists(path: string): boolean;
  readFile(path: string): string | undefined;
  /** Whether a systemd unit is enabled (a symlink in /etc/systemd/system/*.wants/ or similar). */
  unitEnabled(unit: string): boolean;
  /** Names in a directory, sorted by code unit (as systemd and run-parts sort); [] when it is absent or not a directory. */
  listDir(path: string): string[];
}

export interface RenderResult {
  files: PlannedFile[];
  /** Commands to activate the config on a live system (not run under --root). */
  commands: PlannedCommand[];
  notes: Note[];
}

/** One network backend: a pure function from NetworkConfig to files, plus detection. */
export interface NetworkRenderer {
  readonly name: BackendName;
  /** True when the system actually uses this backend (installed AND in charge). */
  detect(sys: SystemView): boolean;
  render(net: NetworkConfig): RenderResult;
  /**
   * Paths (absolute in the root) of files this backend owns: a directory plus a file-name prefix.
   * Stale files matching it from an earlier instance are removed; nothing else is ever touched.
   * With `marker`, a matching file is ours only when its content contains the marker (ifcfg-eth0 may
   * be the user's own file: it is then neither overwritten nor removed).
   */
  readonly owned: OwnedFiles[];
  /**
   * Findings about the target system that affect this backend's files (e.g. /etc/network/interfaces
   * not sourcing interfaces.d, a user-owned ifcfg file in the way). Read-only; never throws.
   */
  inspect?(sys: SystemView, net: NetworkConfig): Note[];
}

export interface OwnedFiles {
  dir: string;
  prefix: string;
  marker?: string;
  /** Ours live one level down, in subdirectories of `dir` whose names end with this (networkd's `X.network.d/` drop-ins). */
  inSubdirs?: string;
}

/** What /etc/resolv.conf is in the target root: a symlink (with its target) or a regular/missing file. */
export interface ResolvConfState {
  symlinkTarget?: string;
}
