/**
 * The pcap/DHCP reader on built bytes (the layouts of RFC 2131/2132 and libpcap), and the networkd DUID
 * against the published vectors: SipHash-2-4's own (Aumasson & Bernstein, appendix A) and the DUID
 * systemd's test mode asserts for machine-id 0102...10 (src/libsystemd-network/sd-dhcp-duid.c).
 * And one real capture: fixtures/networkd-clone-boot.pcap is QEMU's filter-dump of a whole boot of a clone
 * (test/vm/signed-identity.test.ts, clone A: networkd, bookworm, systemd 252), kept small (4.7 KB).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dhcpClientMessages, networkdDuid, parseDhcpClientMessage, readPcap, siphash24, splitRfc4361 } from './dhcp-pcap.js';

function option(code: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([Buffer.from([code, v.length]), v]);
}

function bootp(o: { op?: number; type: number; xid: number; mac: string; options?: Buffer[] }): Buffer {
  const head = Buffer.alloc(240);
  head[0] = o.op ?? 1;
  head[1] = 1;
  head[2] = 6;
  head.writeUInt32BE(o.xid, 4);
  Buffer.from(o.mac.replace(/:/g, ''), 'hex').copy(head, 28);
  head.writeUInt32BE(0x63825363, 236);
  return Buffer.concat([head, option(53, Buffer.from([o.type])), ...(o.options ?? []), Buffer.from([255])]);
}

function frame(payload: Buffer, o: { src?: number; dst?: number; vlan?: boolean; etherType?: number } = {}): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(o.src ?? 68, 0);
  udp.writeUInt16BE(o.dst ?? 67, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.fill(0xff, 16, 20);
  const eth = Buffer.alloc(14);
  eth.fill(0xff, 0, 6);
  eth.writeUInt16BE(o.etherType ?? 0x0800, 12);
  const tag = o.vlan ? Buffer.from([0x81, 0x00, 0x00, 0x05]) : Buffer.alloc(0);
  return o.vlan ? Buffer.concat([eth.subarray(0, 12), tag, eth.subarray(12), ip, udp, payload]) : Buffer.concat([eth, ip, udp, payload]);
}

function pcap(frames: Buffer[], o: { bigEndian?: boolean; nano?: boolean; linkType?: number } = {}): Buffer {
  const w32 = (b: Buffer, v: number, at: number) => (o.bigEndian ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const head = Buffer.alloc(24);
  w32(head, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w32(head, 65535, 16);
  w32(head, o.linkType ?? 1, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    w32(r, 1_764_000_000 + i, 0);
    w32(r, o.nano ? 500_000_000 : 500_000, 4);
    w32(r, f.length, 8);
    w32(r, f.length, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([head, ...recs]);
}

const CLIENT_ID = 'ff' + '5c0a1d2e' + '00020000ab11' + '0102030405060708';

describe('DHCP client messages from a pcap', () => {
  const discover = frame(bootp({ type: 1, xid: 0x11223344, mac: '52:54:00:5e:00:0a', options: [option(61, Buffer.from(CLIENT_ID, 'hex')), option(12, 'vm-a')] }));
  const request = frame(bootp({ type: 3, xid: 0x11223344, mac: '52:54:00:5e:00:0a', options: [option(61, Buffer.from(CLIENT_ID, 'hex'))] }));
  const offer = frame(bootp({ op: 2, type: 2, xid: 0x11223344, mac: '52:54:00:5e:00:0a' }), { src: 67, dst: 68 });
  const arp = frame(Buffer.alloc(28), { etherType: 0x0806 });

  it('reads DISCOVER and REQUEST with chaddr, option 61 and option 12; ignores the server, ARP and other ports', () => {
    const msgs = dhcpClientMessages(pcap([arp, discover, offer, request, frame(Buffer.alloc(300), { src: 5353, dst: 5353 })]));
    expect(msgs.map((m) => m.type)).toEqual(['DISCOVER', 'REQUEST']);
    expect(msgs[0]).toMatchObject({ xid: 0x11223344, chaddr: '52:54:00:5e:00:0a', clientId: CLIENT_ID, hostname: 'vm-a' });
    expect(msgs[0]!.time).toBeCloseTo(1_764_000_001.5, 3);
    expect(msgs[1]!.hostname).toBeUndefined();
  });

  it('either byte order, ns timestamps, an 802.1Q tag; a record cut short at the end is dropped', () => {
    const tagged = frame(bootp({ type: 1, xid: 7, mac: '52:54:00:00:00:01' }), { vlan: true });
    const be = pcap([tagged, discover], { bigEndian: true, nano: true });
    const msgs = dhcpClientMessages(be);
    expect(msgs.map((m) => [m.xid, m.chaddr])).toEqual([[7, '52:54:00:00:00:01'], [0x11223344, '52:54:00:5e:00:0a']]);
    expect(msgs[0]!.clientId).toBeUndefined();
    expect(msgs[0]!.time).toBeCloseTo(1_764_000_000.5, 3);
    expect(readPcap(be.subarray(0, be.length - 10))).toHaveLength(1);
  });

  it('an option split in two (RFC 3396) is joined; pad bytes are skipped; a non-DHCP BOOTP payload is not a message', () => {
    const split = bootp({ type: 3, xid: 1, mac: '52:54:00:00:00:02', options: [option(61, Buffer.from('ff0102', 'hex')), Buffer.from([0, 0]), option(61, Buffer.from('0304', 'hex'))] });
    expect(parseDhcpClientMessage(split)?.clientId).toBe('ff01020304');
    const noCookie = Buffer.from(split);
    noCookie.writeUInt32BE(0, 236);
    expect(parseDhcpClientMessage(noCookie)).toBeUndefined();
    expect(parseDhcpClientMessage(Buffer.alloc(100))).toBeUndefined();
  });

  it('refuses what it cannot read, saying why', () => {
    expect(() => readPcap(Buffer.alloc(10))).toThrow(/shorter than the 24-byte file header/);
    expect(() => readPcap(Buffer.alloc(24))).toThrow(/not a libpcap file/);
    expect(() => readPcap(pcap([], { linkType: 113 }))).toThrow(/link type 113/);
  });

  it('splits an RFC 4361 client id into IAID and DUID', () => {
    expect(splitRfc4361(CLIENT_ID)).toEqual({ iaid: '5c0a1d2e', duid: '00020000ab110102030405060708' });
    expect(splitRfc4361('01525400123456')).toBeUndefined(); // type 1: a MAC, as dhclient sends by default
  });
});

describe("networkd's DUID from a machine-id", () => {
  it('SipHash-2-4 matches the paper\'s vectors', () => {
    const key = Buffer.from([...Array(16).keys()]);
    expect(siphash24(Buffer.alloc(0), key)).toBe(0x726fdb47dd0e0e31n);
    expect(siphash24(Buffer.from([...Array(15).keys()]), key)).toBe(0xa129ca6149be45e5n);
    expect(siphash24(Buffer.from([...Array(8).keys()]), key)).toBe(0x93f5f5799a932462n);
  });

  it("is the DUID systemd's own test asserts for machine-id 0102...10", () => {
    expect(networkdDuid('0102030405060708090a0b0c0d0e0f10')).toBe('00020000ab11617740de1342c3a2');
  });

  it('differs for different machine-ids and refuses a non-id', () => {
    expect(networkdDuid('95fd1912c86b4e31a2211fbc1dd419cb')).not.toBe(networkdDuid('95fd1912c86b4e31a2211fbc1dd419cc'));
    expect(() => networkdDuid('uninitialized')).toThrow(/not a machine-id/);
  });
});

describe('a real capture (QEMU filter-dump, one clone booting with networkd)', () => {
  // From the same boot's report: the machine-id the agent gave the clone, the MAC and the context's host name.
  const MACHINE_ID = '4ab0c53b906c4b0eb660481ad80f3890';
  const msgs = dhcpClientMessages(readFileSync(join(import.meta.dirname, 'fixtures', 'networkd-clone-boot.pcap')));

  it("holds networkd's DISCOVER, REQUEST and RELEASE, one client id, the clone's MAC and host name", () => {
    expect(msgs.map((m) => m.type)).toEqual(['DISCOVER', 'REQUEST', 'RELEASE']);
    expect(new Set(msgs.map((m) => m.clientId))).toEqual(new Set(['ffb55e67ff00020000ab11c05cc230e0881b80']));
    expect(msgs.every((m) => m.chaddr === '52:54:00:5e:00:0a')).toBe(true);
    expect(msgs.slice(0, 2).map((m) => m.hostname)).toEqual(['vm-a', 'vm-a']);
  });

  it('its DUID is networkdDuid of the clone\'s machine-id (the derivation the VM test relies on)', () => {
    expect(splitRfc4361(msgs[0]!.clientId!)?.duid).toBe(networkdDuid(MACHINE_ID));
  });
});
