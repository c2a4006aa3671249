/**
 * IPv4 address pools for batches: a range "A-B" (with a prefix for the subnet) or a whole CIDR.
 * Allocation is first-free in inventory order, skipping the network and broadcast addresses,
 * the gateway, the DNS servers and every address fixed elsewhere in the batch or found in OUTDIR.
 */
import {
  broadcastAddress,
  ipv4ToNumber,
  networkAddress,
  numberToIPv4,
  parseIPv4,
} from '../../../lib/net/ip.js';

export interface Pool {
  network: string;
  prefix: number;
  first: number;
  last: number;
}

export function parsePool(spec: string, prefixText: string | undefined): { pool?: Pool; why?: string } {
  const s = spec.trim();
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const addr = parseIPv4(s.slice(0, slash));
    const p = s.slice(slash + 1);
    if (!addr || !/^[0-9]{1,2}$/.test(p) || Number(p) > 30) return { why: 'pool must be A-B or an IPv4 network N/P with P at most 30' };
    const prefix = Number(p);
    if (networkAddress(addr, prefix) !== addr) return { why: `host bits set; the network is ${networkAddress(addr, prefix)}/${prefix}` };
    if (prefixText !== undefined && Number(prefixText) !== prefix) return { why: `prefix = ${prefixText} disagrees with the pool's /${prefix}` };
    return {
      pool: { network: addr, prefix, first: ipv4ToNumber(addr) + 1, last: ipv4ToNumber(broadcastAddress(addr, prefix)) - 1 },
    };
  }
  const dash = s.indexOf('-');
  const a = dash < 0 ? undefined : parseIPv4(s.slice(0, dash).trim());
  const b = dash < 0 ? undefined : parseIPv4(s.slice(dash + 1).trim());
  if (!a || !b) return { why: 'pool must be A-B (two IPv4 addresses) or an IPv4 network N/P' };
  if (prefixText === undefined) return { why: 'a pool range needs prefix = N (the subnet prefix length) in [defaults]' };
  if (!/^[0-9]{1,2}$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > 32) return { why: `prefix ${prefixText} must be 1-32` };
  const prefix = Number(prefixText);
  const network = networkAddress(a, prefix);
  if (networkAddress(b, prefix) !== network) return { why: `${a} and ${b} are not in the same /${prefix} subnet` };
  const first = ipv4ToNumber(a);
  const last = ipv4ToNumber(b);
  if (first > last) return { why: 'pool range is backwards (first address after last)' };
  const lo = prefix >= 31 ? 0 : ipv4ToNumber(network) + 1;
  const hi = prefix >= 31 ? 2 ** 32 : ipv4ToNumber(broadcastAddress(a, prefix)) - 1;
  return { pool: { network, prefix, first: Math.max(first, lo), last: Math.min(last, hi) } };
}

/** The next `count` free addresses, in order; fewer if the pool runs out. */
export function allocate(pool: Pool, count: number, taken: Set<string>): string[] {
  const a = new Allocator(pool, taken);
  const out: string[] = [];
  while (out.length < count) {
    const x = a.next();
    if (x === undefined) break;
    out.push(x);
  }
  return out;
}

/**
 * First-free allocation, one VM at a time. `next(ok)` skips addresses `ok` refuses (e.g. one whose
 * derived MAC is taken) without consuming them, so a later VM with another MAC rule can still get it.
 */
export class Allocator {
  private cursor: number;
  constructor(
    private readonly pool: Pool,
    private readonly taken: Set<string>,
  ) {
    this.cursor = pool.first;
  }

  take(address: string): void {
    this.taken.add(address);
  }

  next(ok: (address: string) => boolean = () => true): string | undefined {
    for (let n = this.cursor; n <= this.pool.last; n++) {
      const a = numberToIPv4(n);
      if (this.taken.has(a) || !ok(a)) continue;
      this.taken.add(a);
      while (this.cursor <= this.pool.last && this.taken.has(numberToIPv4(this.cursor))) this.cursor++;
      return a;
    }
    return undefined;
  }

  /** Free addresses left (for the exhaustion message). */
  free(): number {
    let n = 0;
    for (let i = this.pool.first; i <= this.pool.last; i++) if (!this.taken.has(numberToIPv4(i))) n++;
    return n;
  }
}

export function poolSize(pool: Pool): number {
  return Math.max(0, pool.last - pool.first + 1);
}
