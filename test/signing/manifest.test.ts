/** The canonical manifest: one encoding per manifest, a strict parser, and its refusals line by line. */
import { describe, expect, it } from 'vitest';
import { encodeManifest, parseManifest, type Manifest } from '../../lib/signing/index.js';
import { mulberry32 } from '../support/prng.js';

const base: Manifest = {
  version: 1,
  label: 'CONTEXT',
  instanceId: 'web01',
  uuid: '6f1c2a9e-3b7d-4c2e-9a51-0d6b2f8e4c11',
  macs: ['52:54:00:12:34:56', '02:00:0a:00:00:05'],
  notAfter: new Date('2031-01-01T00:00:00Z'),
  serial: 7,
  files: [
    { path: 'post-install', mode: 0o555, size: 3, sha256: 'b'.repeat(64) },
    { path: 'common/network', mode: 0o444, size: 10, sha256: 'a'.repeat(64) },
  ],
};

const TEXT = [
  'contextualization-manifest 1',
  'label CONTEXT',
  'instance-id web01',
  'uuid 6f1c2a9e-3b7d-4c2e-9a51-0d6b2f8e4c11',
  'mac 02:00:0a:00:00:05',
  'mac 52:54:00:12:34:56',
  'not-after 2031-01-01T00:00:00Z',
  'serial 7',
  `file 0444 10 ${'a'.repeat(64)} common/network`,
  `file 0555 3 ${'b'.repeat(64)} post-install`,
  'end',
  '',
].join('\n');

describe('encodeManifest', () => {
  it('writes the documented format (docs/signed-contexts.md), lists sorted', () => {
    expect(encodeManifest(base).toString('utf8')).toBe(TEXT);
  });

  it('sorts paths by UTF-8 bytes, not JavaScript string order', () => {
    // U+FFFD is EF BF BD in UTF-8, U+1F600 is F0 9F 98 80: bytes put U+FFFD first, UTF-16 units the other way.
    const m = { ...base, files: [{ path: 'a\u{1F600}', mode: 0o444 as const, size: 0, sha256: 'c'.repeat(64) }, { path: 'a\uFFFD', mode: 0o444 as const, size: 0, sha256: 'c'.repeat(64) }] };
    const lines = encodeManifest(m).toString('utf8').split('\n').filter((l) => l.startsWith('file '));
    expect(lines.map((l) => l.split(' ').pop())).toEqual(['a\uFFFD', 'a\u{1F600}']);
    expect(parseManifest(encodeManifest(m))).toMatchObject({ ok: true });
  });

  it('refuses what has no canonical form', () => {
    expect(() => encodeManifest({ ...base, macs: ['52:54:00:12:34:56', '52:54:00:12:34:56'] })).toThrow('manifest: a MAC is listed twice');
    expect(() => encodeManifest({ ...base, uuid: '6F1C2A9E-3B7D-4C2E-9A51-0D6B2F8E4C11' })).toThrow(/not a lower-case, non-nil UUID/);
    expect(() => encodeManifest({ ...base, files: [...base.files, base.files[0]!] })).toThrow('manifest: file "post-install" listed twice');
    expect(() => encodeManifest({ ...base, files: [{ ...base.files[0]!, path: '../etc/shadow' }] })).toThrow(/has an empty, "\." or "\.\." component/);
    expect(() => encodeManifest({ ...base, notAfter: new Date('2031-01-01T00:00:00.500Z') })).toThrow('manifest: not-after must be a whole second');
  });
});

describe('parseManifest', () => {
  it('reads back what it wrote (500 seeded random manifests)', () => {
    const rnd = mulberry32(13);
    const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
    for (let i = 0; i < 500; i++) {
      const paths = new Set<string>();
      const n = Math.floor(rnd() * 6);
      while (paths.size < n) paths.add(['common', 'data', 'é', 'x y'][Math.floor(rnd() * 4)] + '/' + hex(1 + Math.floor(rnd() * 3)));
      const macs = new Set<string>();
      const nm = Math.floor(rnd() * 3);
      while (macs.size < nm) macs.add(`52:54:00:${hex(2)}:${hex(2)}:${hex(2)}`);
      const m: Manifest = {
        version: 1,
        label: rnd() < 0.5 ? 'CONTEXT' : 'cidata',
        instanceId: `i-${hex(8)}`,
        macs: [...macs].sort(),
        files: [...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map((path) => ({ path, mode: rnd() < 0.3 ? 0o555 : 0o444, size: Math.floor(rnd() * 1e6), sha256: hex(64) })),
      };
      if (rnd() < 0.5) m.uuid = `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`;
      if (rnd() < 0.5) m.notAfter = new Date(Math.floor(rnd() * 4e9) * 1000);
      if (rnd() < 0.5) m.serial = Math.floor(rnd() * 1e9);
      const bytes = encodeManifest(m);
      expect(parseManifest(bytes)).toEqual({ ok: true, manifest: m });
    }
  });

  const edit = (from: string, to: string) => Buffer.from(TEXT.replace(from, to));
  const cases: [string, Buffer, string][] = [
    ['a newer version', edit('manifest 1', 'manifest 2'), 'manifest line 1: manifest version "2" is not supported (this agent reads version 1)'],
    ['another magic', edit('contextualization-manifest 1', 'manifest 1'), 'manifest line 1: expected "contextualization-manifest 1"'],
    ['a repeated field', edit('instance-id web01\n', 'instance-id web01\ninstance-id web02\n'), 'manifest line 4: field instance-id given twice'],
    ['a field out of order', edit('label CONTEXT\ninstance-id web01\n', 'instance-id web01\nlabel CONTEXT\n'), 'manifest line 3: field label out of order (after instance-id)'],
    ['an unknown field', edit('serial 7\n', 'serial 7\nowner root\n'), 'manifest line 9: unknown field "owner"'],
    ['a MAC listed twice', edit('mac 52:54:00:12:34:56\n', 'mac 52:54:00:12:34:56\nmac 52:54:00:12:34:56\n'), 'manifest line 7: mac 52:54:00:12:34:56 listed twice'],
    ['MACs not sorted', edit('mac 02:00:0a:00:00:05\nmac 52:54:00:12:34:56', 'mac 52:54:00:12:34:56\nmac 02:00:0a:00:00:05'), 'manifest line 6: mac 02:00:0a:00:00:05 is not in sorted order'],
    ['an upper-case MAC', edit('mac 52:54:00:12:34:56', 'mac 52:54:00:12:34:5A'), 'manifest line 6: mac "52:54:00:12:34:5A" is not a lower-case MAC address'],
    ['an upper-case UUID', edit('uuid 6f1c', 'uuid 6F1C'), 'manifest line 4: uuid "6F1C2a9e-3b7d-4c2e-9a51-0d6b2f8e4c11" is not a lower-case, non-nil UUID'],
    ['a non-canonical serial', edit('serial 7', 'serial 07'), 'manifest line 8: serial "07" is not a whole number without leading zeros'],
    ['an expiry with milliseconds', edit('00:00:00Z', '00:00:00.000Z'), 'manifest line 7: not-after "2031-01-01T00:00:00.000Z" is not YYYY-MM-DDTHH:MM:SSZ'],
    ['an impossible date', edit('2031-01-01', '2031-02-30'), 'manifest line 7: not-after "2031-02-30T00:00:00Z" is not YYYY-MM-DDTHH:MM:SSZ'],
    ['a file listed twice', edit(`post-install\n`, `post-install\nfile 0555 3 ${'b'.repeat(64)} post-install\n`), 'manifest line 11: file "post-install" listed twice'],
    ['files not sorted', Buffer.from(TEXT.replace(/(file 0444 .*)\n(file 0555 .*)\n/, '$2\n$1\n')), 'manifest line 10: file "common/network" is not in sorted order'],
    ['a mode other than 0444/0555', edit('file 0555', 'file 4755'), 'manifest line 10: expected "file 0444|0555 SIZE SHA256 PATH"'],
    ['a path with ..', edit(' post-install\n', ' ../post-install\n'), 'manifest line 10: file "../post-install": path has an empty, "." or ".." component'],
    ['a CR in a line', edit('label CONTEXT', 'label CONTEXT\r'), 'manifest line 2: label "CONTEXT\\r" is not 1-32 of A-Z a-z 0-9 _ . -'],
    ['text after end', Buffer.from(`${TEXT}x\n`), 'manifest line 12: text after "end"'],
    ['no end', Buffer.from(TEXT.replace('end\n', '')), 'manifest has no "end" line (truncated?)'],
    ['no final newline', Buffer.from(TEXT.slice(0, -1)), 'manifest does not end with a newline'],
    ['no instance id', edit('instance-id web01\n', ''), 'manifest line 10: label and instance-id are required'],
    ['invalid UTF-8', Buffer.concat([Buffer.from(TEXT.replace(' post-install', ' post-install-')), Buffer.from([0xff])]), 'manifest is not valid UTF-8'],
  ];
  it.each(cases)('refuses %s', (_what, bytes, why) => {
    expect(parseManifest(bytes)).toEqual({ ok: false, why });
  });
});
