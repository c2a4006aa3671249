/**
 * What a guest's DHCP client said on the wire: a reader for the classic pcap files QEMU's filter-dump
 * writes, the DHCPv4 client messages in them (RFC 2131/2132: chaddr, option 61 client identifier,
 * option 12 host name), and networkd's client identity derived from a machine-id, so that a clone's
 * identity can be compared with what its base image would send without booting the base.
 * Pure functions over bytes (the VM test feeds them the capture; test/vm/dhcp-pcap.test.ts built bytes).
 */

export interface PcapFrame {
  /** Capture time, seconds since the epoch (microsecond or nanosecond files alike). */
  time: number;
  data: Buffer;
}

const LINKTYPE_ETHERNET = 1;

/** The frames of a classic libpcap file (either byte order, µs or ns timestamps); Ethernet only. */
export function readPcap(file: Buffer): PcapFrame[] {
  if (file.length < 24) throw new Error(`pcap: ${file.length} bytes, shorter than the 24-byte file header`);
  const magic = file.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const be = file.readUInt32BE(0) === 0xa1b2c3d4 || file.readUInt32BE(0) === 0xa1b23c4d;
  if (!le && !be) throw new Error(`pcap: magic 0x${magic.toString(16)} is not a libpcap file (pcapng is not read)`);
  const u32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const nano = (le ? magic : file.readUInt32BE(0)) === 0xa1b23c4d;
  const linkType = u32(20) & 0x0fffffff;
  if (linkType !== LINKTYPE_ETHERNET) throw new Error(`pcap: link type ${linkType}, only Ethernet (1) is read`);
  const frames: PcapFrame[] = [];
  let at = 24;
  // A capture cut short by a killed QEMU ends mid-record: the complete records before it count.
  while (at + 16 <= file.length) {
    const caplen = u32(at + 8);
    if (at + 16 + caplen > file.length) break;
    frames.push({ time: u32(at) + u32(at + 4) / (nano ? 1e9 : 1e6), data: file.subarray(at + 16, at + 16 + caplen) });
    at += 16 + caplen;
  }
  return frames;
}

/** DHCP message types (option 53) a client sends. */
const CLIENT_TYPES: Record<number, string> = { 1: 'DISCOVER', 3: 'REQUEST', 4: 'DECLINE', 7: 'RELEASE', 8: 'INFORM' };
const MAGIC_COOKIE = 0x63825363;

export interface DhcpClientMessage {
  time: number;
  type: string;
  xid: number;
  /** Client hardware address from the BOOTP header, aa:bb:cc:dd:ee:ff. */
  chaddr: string;
  /** Option 61, raw (lower-case hex); undefined when the client sent none (then servers key on chaddr). */
  clientId?: string;
  /** Option 12. */
  hostname?: string;
}

const hex = (b: Buffer): string => b.toString('hex');
const mac = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** The UDP payload of an Ethernet/IPv4 frame sent from port `src` to `dst`, else undefined. */
function udpPayload(frame: Buffer, src: number, dst: number): Buffer | undefined {
  let off = 12;
  let etherType = frame.length >= 14 ? frame.readUInt16BE(off) : 0;
  if (etherType === 0x8100 && frame.length >= 18) { // one 802.1Q tag
    off += 4;
    etherType = frame.readUInt16BE(off);
  }
  if (etherType !== 0x0800) return undefined;
  const ip = off + 2;
  if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4 || frame[ip + 9] !== 17) return undefined;
  // A fragment other than the first has no UDP header: DHCP messages are never fragmented in practice.
  if ((frame.readUInt16BE(ip + 6) & 0x1fff) !== 0) return undefined;
  const udp = ip + (frame[ip]! & 0x0f) * 4;
  if (frame.length < udp + 8 || frame.readUInt16BE(udp) !== src || frame.readUInt16BE(udp + 2) !== dst) return undefined;
  const end = Math.min(frame.length, udp + frame.readUInt16BE(udp + 4));
  return frame.subarray(udp + 8, end);
}

/** One BOOTP request from a client (port 68 -> 67), or undefined when the payload is not one. */
export function parseDhcpClientMessage(payload: Buffer, time = 0): DhcpClientMessage | undefined {
  if (payload.length < 240 || payload[0] !== 1 || payload.readUInt32BE(236) !== MAGIC_COOKIE) return undefined;
  const hlen = Math.min(payload[2]!, 16);
  const options = new Map<number, Buffer>();
  for (let at = 240; at < payload.length;) {
    const code = payload[at]!;
    if (code === 255) break;
    if (code === 0) { at += 1; continue; }
    if (at + 2 > payload.length) break;
    const len = payload[at + 1]!;
    const value = payload.subarray(at + 2, Math.min(payload.length, at + 2 + len));
    // RFC 3396: an option split over several instances is their concatenation.
    options.set(code, options.has(code) ? Buffer.concat([options.get(code)!, value]) : value);
    at += 2 + len;
  }
  const type = options.get(53)?.[0];
  if (type === undefined || !CLIENT_TYPES[type]) return undefined;
  const msg: DhcpClientMessage = { time, type: CLIENT_TYPES[type], xid: payload.readUInt32BE(4), chaddr: mac(payload.subarray(28, 28 + hlen)) };
  const id = options.get(61);
  if (id?.length) msg.clientId = hex(id);
  const name = options.get(12);
  if (name?.length) msg.hostname = name.toString('latin1');
  return msg;
}

/** Every DHCPv4 client message in a capture, in capture order. */
export function dhcpClientMessages(pcap: Buffer): DhcpClientMessage[] {
  return readPcap(pcap).flatMap((f) => {
    const payload = udpPayload(f.data, 68, 67);
    return (payload && parseDhcpClientMessage(payload, f.time)) || [];
  });
}

/** Option 61 of RFC 4361 form: type 255, a 4-byte IAID, then the DUID (what networkd sends by default). */
export function splitRfc4361(clientIdHex: string): { iaid: string; duid: string } | undefined {
  if (!/^ff[0-9a-f]{10,}$/.test(clientIdHex)) return undefined;
  return { iaid: clientIdHex.slice(2, 10), duid: clientIdHex.slice(10) };
}

// ------------------------------------------------------------------ networkd's DUID from a machine-id

const MASK64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK64;

/** SipHash-2-4 of `data` under a 16-byte key, as the 64-bit number (systemd's siphash24()). */
export function siphash24(data: Buffer, key: Buffer): bigint {
  if (key.length !== 16) throw new Error('siphash24: the key is 16 bytes');
  const k0 = key.readBigUInt64LE(0);
  const k1 = key.readBigUInt64LE(8);
  let v0 = k0 ^ 0x736f6d6570736575n;
  let v1 = k1 ^ 0x646f72616e646f6dn;
  let v2 = k0 ^ 0x6c7967656e657261n;
  let v3 = k1 ^ 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK64; v1 = rotl(v1, 13n); v1 ^= v0; v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK64; v3 = rotl(v3, 16n); v3 ^= v2;
    v0 = (v0 + v3) & MASK64; v3 = rotl(v3, 21n); v3 ^= v0;
    v2 = (v2 + v1) & MASK64; v1 = rotl(v1, 17n); v1 ^= v2; v2 = rotl(v2, 32n);
  };
  const compress = (m: bigint): void => {
    v3 ^= m;
    round(); round();
    v0 ^= m;
  };
  const whole = data.length - (data.length % 8);
  for (let at = 0; at < whole; at += 8) compress(data.readBigUInt64LE(at));
  // The last block: the remaining bytes, little-endian, with the length's low byte on top.
  let last = BigInt(data.length & 0xff) << 56n;
  for (let i = 0; i < data.length % 8; i++) last |= BigInt(data[whole + i]!) << BigInt(8 * i);
  compress(last);
  v2 ^= 0xffn;
  round(); round(); round(); round();
  return v0 ^ v1 ^ v2 ^ v3;
}

/** systemd's HASH_KEY in src/libsystemd-network (dhcp-identifier.c / sd-dhcp-duid.c). */
const SYSTEMD_DUID_HASH_KEY = Buffer.from('80118cc2fe4a03ee3ed60c6f36391409', 'hex');
/** systemd's private enterprise number (IANA), the DUID-EN's enterprise field. */
const SYSTEMD_PEN = 43793;

/**
 * The DUID-EN systemd-networkd uses by default (DUIDType=vendor), in lower-case hex: type 2, PEN 43793,
 * then siphash24(machine-id bytes, HASH_KEY) as 8 little-endian bytes. A pure function of the machine-id:
 * clones that share a machine-id share it.
 */
export function networkdDuid(machineId: string): string {
  if (!/^[0-9a-f]{32}$/.test(machineId)) throw new Error(`networkdDuid: ${JSON.stringify(machineId)} is not a machine-id`);
  const out = Buffer.alloc(14);
  out.writeUInt16BE(2, 0);
  out.writeUInt32BE(SYSTEMD_PEN, 2);
  out.writeBigUInt64LE(siphash24(Buffer.from(machineId, 'hex'), SYSTEMD_DUID_HASH_KEY), 6);
  return out.toString('hex');
}
