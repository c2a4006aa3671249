/** Input trees shared by the interop tests: a real context layout plus the awkward cases. */
import type { IsoInputFile, IsoInputSymlink } from '../../lib/iso9660/index.js';

export const LONG_NAME = `${'long-name-'.repeat(25)}12345`; // 255 bytes, the POSIX/RR maximum
export const DEEP_DIR = 'deep/l1/l2/l3/l4/l5/l6/l7/l8/l9/l10/l11';
export const UNICODE_NAME = 'caf\u00e9-\u65e5\u672c.txt';

export function contextFiles(): IsoInputFile[] {
  return [
    { path: 'common/network', data: Buffer.from('IP_ADDRESS=10.0.0.2\nNETMASK=255.255.255.0\nGATEWAY=10.0.0.1\n') },
    { path: 'common/routes', data: Buffer.from('10.1.0.0/16 via 10.0.0.254\n') },
    { path: 'common/context.ini', data: Buffer.from('[network]\nhostname = vm-1\n') },
    { path: 'common/authorized_keys', data: Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host\n'), mode: 0o600 },
    { path: 'post-install', data: Buffer.from('#!/bin/sh\necho configured > /tmp/done\n'), mode: 0o755 },
  ];
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Everything awkward at once: empty file, 3 MB file, 255-byte name, deep tree, unicode, 8.3 collisions. */
export function awkwardFiles(): IsoInputFile[] {
  return [
    ...contextFiles(),
    { path: 'empty', data: Buffer.alloc(0) },
    { path: 'data/big.bin', data: bytes(3 * 1024 * 1024 + 123, 7) },
    { path: `names/${LONG_NAME}`, data: Buffer.from('long name\n') },
    { path: `names/${'x'.repeat(70)}.conf`, data: Buffer.from('seventy\n') },
    { path: `names/${'x'.repeat(70)}.cfg`, data: Buffer.from('seventy too\n') },
    { path: 'names/network-a.conf', data: Buffer.from('a\n') },
    { path: 'names/network-b.conf', data: Buffer.from('b\n') },
    { path: 'names/with space.txt', data: Buffer.from('space\n') },
    { path: `names/${UNICODE_NAME}`, data: Buffer.from('unicode\n') },
    { path: 'names/.hidden', data: Buffer.from('dot\n'), mode: 0o640 },
    { path: 'names/UPPER.TXT', data: Buffer.from('upper\n') },
    { path: 'names/upper.txt', data: Buffer.from('lower\n') },
    { path: `${DEEP_DIR}/bottom.txt`, data: Buffer.from('bottom\n'), mode: 0o700 },
    { path: 'exact/2048.bin', data: bytes(2048, 3) },
    { path: 'exact/2049.bin', data: bytes(2049, 4) },
  ];
}

export function manyFiles(n: number): IsoInputFile[] {
  const out: IsoInputFile[] = [];
  for (let i = 0; i < n; i++) out.push({ path: `many/d${i % 7}/file-${String(i).padStart(4, '0')}.txt`, data: Buffer.from(`file ${i}\n`.repeat(i % 5)) });
  return out;
}

export function withSymlinks(): (IsoInputFile | IsoInputSymlink)[] {
  return [
    ...contextFiles(),
    { path: 'links/to-network', target: '../common/network' },
    { path: 'links/absolute', target: '/etc/hostname' },
    { path: 'links/long', target: `${'seg/'.repeat(80)}end` },
  ];
}
