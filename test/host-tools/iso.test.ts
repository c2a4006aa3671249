import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { contextHash, parseContext, readContextDir } from '../../lib/context/index.js';
import { openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { cg, cgProcess, snapshot, sshPublicKey, tempDir, TEMPLATE } from './helpers.js';

let dir: string;
beforeAll(() => {
  dir = tempDir('cg-iso-');
  writeFileSync(join(dir, 'setup.sh'), '#!/bin/bash\necho configured > /root/marker\n');
  writeFileSync(join(dir, 'id.pub'), `${sshPublicKey('ops@example')}\n`);
});

/** The ISO as our reader and parser see it (what the agent reads). */
function readBack(iso: string) {
  const img = openIso(iso);
  try {
    return { volumeId: img.volumeId, entries: img.entries(), context: parseContext(readAllFiles(img)) };
  } finally {
    img.close();
  }
}

/** The ISO extracted by xorriso (an independent reader), then parsed from the extracted directory. */
async function xorrisoContext(iso: string) {
  const out = tempDir('cg-xorriso-');
  execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', join(out, 'x')], { stdio: 'ignore' });
  return { dir: join(out, 'x'), context: parseContext(await readContextDir(join(out, 'x'))) };
}

describe('contextgen iso', () => {
  it('builds from the template plus flags; xorriso, isoinfo and our reader agree on the content', async () => {
    const out = join(dir, 'web.iso');
    const r = await cg(
      ['iso', '-o', out, '--from', TEMPLATE, '--hostname', 'web02', '--nic', '52:54:00:aa:bb:cc=10.0.0.5/24', '--gateway', '10.0.0.1',
        '--dns', '10.0.0.53', '--dns', '10.0.0.54', '--domain', 'prod.example', '--search', 'example.org', '--route', '172.16.0.0/12 via 10.0.0.254',
        '--post-install', 'setup.sh', '--post-install-mode', 'per-boot', '--instance-id', 'web02-1', '--ssh-key', 'id.pub', '--mtime', '1700000000'],
      { cwd: dir },
    );
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^wrote .*web\.iso \(label CONTEXT, 5 files, \d+ bytes\): host web02, /);

    const ours = readBack(out);
    const theirs = await xorrisoContext(out);
    expect(theirs.context).toEqual(ours.context);
    const c = ours.context;
    expect(c.hostname).toBe('web02');
    expect(c.instanceId).toBe('web02-1');
    expect(c.dns).toEqual({ nameservers: ['10.0.0.53', '10.0.0.54'], search: ['prod.example', 'example.org'], domain: 'prod.example' });
    const nic = c.nics.find((n) => n.match.kind === 'mac' && n.match.mac === '52:54:00:aa:bb:cc');
    expect(nic).toMatchObject({ method: 'static', ipv4: { address: { address: '10.0.0.5', prefix: 24 }, gateway: '10.0.0.1' } });
    // The template's route is kept (flags extend the directory's model); it binds no NIC of its own.
    expect(c.nics).toHaveLength(1);
    expect(c.routes).toContainEqual(expect.objectContaining({ action: 'add', destination: { address: '172.16.0.0', prefix: 12 }, gateway: '10.0.0.254' }));
    expect(c.routes.length).toBe(2);
    expect(c.postInstall).toEqual({ script: readFileSync(join(dir, 'setup.sh'), 'utf8'), mode: 'per-boot', timeoutSec: 600 });
    expect(c.authorizedKeys).toEqual([readFileSync(join(dir, 'id.pub'), 'utf8').trim()]);

    // Volume label and modes as isoinfo reports them; post-install is executable.
    expect(execFileSync('isoinfo', ['-d', '-i', out], { encoding: 'utf8' })).toContain('Volume id: CONTEXT');
    const listing = execFileSync('isoinfo', ['-R', '-l', '-i', out], { encoding: 'utf8' });
    expect(listing).toMatch(/-rwxr-xr-x .* post-install/);
    expect(listing).toMatch(/-rw-r--r-- .* network/);
    expect(ours.entries.find((e) => e.path === 'post-install')?.mode).toBe(0o755);
    expect(execFileSync('isoinfo', ['-R', '-x', '/post-install', '-i', out], { encoding: 'utf8' })).toBe(readFileSync(join(dir, 'setup.sh'), 'utf8'));
  });

  it('builds from flags alone, with a cidata label, and is byte-reproducible under SOURCE_DATE_EPOCH', async () => {
    const a = join(dir, 'a.iso');
    const b = join(dir, 'b.iso');
    const args = ['--hostname', 'db1', '--nic', '52:54:00:00:00:01=dhcp', '--nic', 'eth1=192.168.50.2/24', '--label', 'cidata'];
    expect((await cg(['iso', '-o', a, ...args], { cwd: dir, env: { SOURCE_DATE_EPOCH: '1600000000' } })).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await cg(['iso', '-o', b, ...args], { cwd: dir, env: { SOURCE_DATE_EPOCH: '1600000000' } })).code).toBe(0);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(execFileSync('isoinfo', ['-d', '-i', a], { encoding: 'utf8' })).toContain('Volume id: cidata');
    const c = readBack(a).context;
    expect(c.nics).toEqual([
      { match: { kind: 'mac', mac: '52:54:00:00:00:01' }, method: 'dhcp' },
      { match: { kind: 'name', name: 'eth1' }, method: 'static', ipv4: { address: { address: '192.168.50.2', prefix: 24 } } },
    ]);
    expect((await xorrisoContext(a)).context).toEqual(c);
  });

  it('carries extra files of the context directory (data for post-install) unchanged', async () => {
    const src = join(dir, 'ctx-extra');
    cpSync(TEMPLATE, src, { recursive: true });
    mkdirSync(join(src, 'files'));
    writeFileSync(join(src, 'files', 'app.conf'), 'listen 8080\n');
    const out = join(dir, 'extra.iso');
    expect((await cg(['iso', '-o', out, '--from', src], { cwd: dir })).code).toBe(0);
    const x = await xorrisoContext(out);
    expect(readFileSync(join(x.dir, 'files', 'app.conf'), 'utf8')).toBe('listen 8080\n');
  });

  it('reports every bad flag value, exits 1 and writes nothing', async () => {
    const before = snapshot(dir);
    const r = await cg(
      ['iso', '-o', 'bad.iso', '--nic', '52:54:00:zz:00:01=10.0.0.5/24', '--nic', '52:54:00:00:00:02=10.0.0.300/24', '--dns', 'resolver',
        '--route', '10.1.2.3/8 via 10.0.0.1', '--route', 'default', '--gateway', '192.0.2.1', '--label', 'a label', '--mtime', 'yesterday',
        '--post-install-mode', 'per-boot'],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    const text = r.err.join('\n');
    expect(r.err.length).toBeGreaterThanOrEqual(8);
    for (const k of ['--nic = "52:54:00:zz', '--nic = "52:54:00:00:00:02', '--dns = "resolver"', '--route = "10.1.2.3/8', '--route = "default"', '--gateway', '--label', '--mtime']) {
      expect(text).toContain(k);
    }
    expect(text).toContain('host bits set; the network is 10.0.0.0/8');
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a template with errors, naming the file', async () => {
    const src = join(dir, 'ctx-bad');
    cpSync(TEMPLATE, src, { recursive: true });
    writeFileSync(join(src, 'common', 'network'), 'GATEWAY=$(reboot)\nNETMASK=255.0.255.0\n');
    const r = await cg(['iso', '-o', 'never.iso', '--from', src], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err.some((l) => l.includes('common/network'))).toBe(true);
    expect(existsSync(join(dir, 'never.iso'))).toBe(false);
  });

  it('refuses a private key passed as --ssh-key without echoing it', async () => {
    writeFileSync(join(dir, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END OPENSSH PRIVATE KEY-----\n');
    const r = await cg(['iso', '-o', 'k.iso', '--ssh-key', 'id_ed25519'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual(['contextgen: <command line>: --ssh-key = "id_ed25519": this is a private key; give the public key (.pub) file']);
  });

  it('refuses to overwrite without --force; --force replaces atomically', async () => {
    const out = join(dir, 'o.iso');
    expect((await cg(['iso', '-o', out, '--hostname', 'one'], { cwd: dir })).code).toBe(0);
    const first = readFileSync(out);
    const r = await cg(['iso', '-o', out, '--hostname', 'two'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`contextgen: ${out}: output exists; use --force to overwrite`]);
    expect(readFileSync(out).equals(first)).toBe(true);
    expect((await cg(['iso', '-o', out, '--hostname', 'two', '--force'], { cwd: dir })).code).toBe(0);
    expect(readBack(out).context.hostname).toBe('two');
    // No temp files left beside the output.
    expect(Object.keys(snapshot(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('exits 3 when the output directory cannot be written', async () => {
    const r = await cg(['iso', '-o', join(dir, 'no', 'such', 'dir', 'x.iso'), '--hostname', 'x'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain('ENOENT');
  });
});

describe('contextgen inspect / validate', () => {
  it('inspect lists files with modes and the parsed context; --json is machine-readable', async () => {
    const out = join(dir, 'i.iso');
    await cg(['iso', '-o', out, '--from', TEMPLATE, '--hostname', 'inspected'], { cwd: dir });
    const r = await cg(['inspect', out], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.out[0]).toContain('volume CONTEXT, rockridge names, 5 files'); // the comments-only authorized_keys is kept, as written
    expect(r.out.some((l) => /0755 file .* post-install$/.test(l))).toBe(true);
    expect(r.out.at(-1)).toMatch(/^context: host inspected, /);
    const j = await cg(['inspect', out, '--json'], { cwd: dir });
    const parsed = JSON.parse(j.out.join('\n'));
    expect(parsed.volumeId).toBe('CONTEXT');
    expect(parsed.context.hostname).toBe('inspected');
    expect(parsed.problems).toEqual([]);
    expect(parsed.entries.map((e: { path: string }) => e.path)).toEqual(['common', 'common/authorized_keys', 'common/context.ini', 'common/network', 'common/routes', 'post-install'].filter((p) => readBack(out).entries.some((e) => e.path === p)));
  });

  it('inspect of a non-ISO or missing file exits 1 with one line', async () => {
    writeFileSync(join(dir, 'not.iso'), 'hello');
    for (const f of ['not.iso', 'missing.iso']) {
      const r = await cg(['inspect', f], { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toContain(f);
    }
  });

  it('inspect reports a genisoimage-made ISO whose context is broken, exit 1', async () => {
    const src = join(dir, 'broken-src');
    mkdirSync(join(src, 'common'), { recursive: true });
    writeFileSync(join(src, 'common', 'network'), 'NETMASK=255.255.255.0\nGATEWAY=not-an-ip\n');
    const iso = join(dir, 'broken.iso');
    execFileSync('genisoimage', ['-quiet', '-R', '-J', '-o', iso, src]);
    const r = await cg(['inspect', iso], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.out[0]).toContain('volume CDROM');
    expect(r.err.some((l) => l.includes('common/network') && l.includes('GATEWAY'))).toBe(true);
  });

  it('validate: 0 for the template, 1 with one line per problem otherwise', async () => {
    const ok = await cg(['validate', TEMPLATE], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.out[0]).toContain(': ok: host web01.example.internal');
    const src = join(dir, 'ctx-val');
    cpSync(TEMPLATE, src, { recursive: true });
    writeFileSync(join(src, 'common', 'routes'), 'up route add -net 10.0.0.0 netmask 255.0.0.0 gw 10.0.0.999 dev eth0\nrm -rf /\n');
    const bad = await cg(['validate', src], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(bad.err.length).toBeGreaterThanOrEqual(2);
    expect(bad.err.every((l) => l.includes('common/routes'))).toBe(true);
    const missing = await cg(['validate', join(dir, 'nope')], { cwd: dir });
    expect(missing.code).toBe(1);
  });
});

describe('contextgen as a subprocess (npx tsx host-tools/src/cli.ts)', () => {
  it('iso then inspect --json end to end, and the documented exit codes', () => {
    const out = join(dir, 'proc.iso');
    const r = cgProcess(['iso', '-o', out, '--hostname', 'proc', '--nic', '52:54:00:00:00:09=10.9.0.9/16'], dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*proc\.iso/);
    const i = cgProcess(['inspect', out, '--json'], dir);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout).context.nics[0].ipv4.address).toEqual({ address: '10.9.0.9', prefix: 16 });
    expect(cgProcess(['iso', '-o', out, '--hostname', 'proc'], dir).code).toBe(1); // exists
    const usage = cgProcess(['iso', '--no-such-flag'], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr.trim().split('\n')).toHaveLength(1);
    expect(cgProcess(['frobnicate'], dir).code).toBe(2);
    expect(cgProcess(['--help'], dir).code).toBe(0);
  });
});

describe('contextgen iso --from DIR keeps the directory byte for byte (issue 12 row 9)', () => {
  /** Every file of an ISO as xorriso extracts it (an independent reader), path -> bytes. */
  function extracted(iso: string): Map<string, Buffer> {
    const x = join(tempDir('cg-x-'), 'x');
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', x], { stdio: 'ignore' });
    const out = new Map<string, Buffer>();
    const walk = (rel: string) => {
      for (const e of readdirSync(join(x, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(r);
        else out.set(r, readFileSync(join(x, r)));
      }
    };
    walk('');
    return out;
  }
  const ourFiles = (iso: string) => {
    const img = openIso(iso);
    try {
      return readAllFiles(img);
    } finally {
      img.close();
    }
  };

  it('a directory with comments, explicit defaults, a comments-only authorized_keys and quoted lists: same files and instance id as genisoimage -RJ', async () => {
    const src = join(dir, 'ctx-verbatim');
    cpSync(TEMPLATE, src, { recursive: true });
    const net = join(src, 'common', 'network');
    writeFileSync(net, `${readFileSync(net, 'utf8')}# a trailing comment\nNAMESERVER='192.168.122.1 9.9.9.9'\n`.replace('NAMESERVER="192.168.122.1"\n', ''));
    const ours = join(dir, 'verbatim-ours.iso');
    const theirs = join(dir, 'verbatim-genisoimage.iso');
    expect((await cg(['iso', '-o', ours, '--from', src], { cwd: dir })).code).toBe(0);
    execFileSync('genisoimage', ['-quiet', '-RJ', '-o', theirs, src]);

    const a = extracted(ours);
    const b = extracted(theirs);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [p, data] of b) expect(a.get(p)?.equals(data), p).toBe(true);
    // Byte for byte the directory: the comments-only authorized_keys is there, comments kept.
    expect(a.get('common/authorized_keys')?.equals(readFileSync(join(src, 'common', 'authorized_keys')))).toBe(true);
    expect(a.get('common/network')!.toString()).toContain("# a trailing comment\nNAMESERVER='192.168.122.1 9.9.9.9'\n");
    // The agent's derived instance id (context.ini's instance_id commented out) is the same from both CDs.
    const ini = join(src, 'common', 'context.ini');
    writeFileSync(ini, readFileSync(ini, 'utf8').replace(/^instance_id = /m, '# instance_id = '));
    expect((await cg(['iso', '-o', ours, '--from', src, '--force'], { cwd: dir })).code).toBe(0);
    execFileSync('genisoimage', ['-quiet', '-RJ', '-o', theirs, src]);
    expect(contextHash(ourFiles(ours))).toBe(contextHash(ourFiles(theirs)));
    expect(parseContext(ourFiles(ours)).instanceId).toBeUndefined();
    expect(isoinfoNames(ours)).toEqual(isoinfoNames(theirs));
  });

  it('only the file a flag changes is re-serialized; the others stay byte for byte', async () => {
    const src = join(dir, 'ctx-verbatim');
    const out = join(dir, 'verbatim-flag.iso');
    const r = await cg(['iso', '-o', out, '--from', src, '--hostname', 'other01'], { cwd: dir });
    expect(r.err).toEqual([]);
    const files = extracted(out);
    for (const p of ['common/network', 'common/routes', 'common/authorized_keys', 'post-install']) {
      expect(files.get(p)?.equals(readFileSync(join(src, p))), p).toBe(true);
    }
    expect(files.get('common/context.ini')!.equals(readFileSync(join(src, 'common', 'context.ini')))).toBe(false);
    expect(parseContext(files).hostname).toBe('other01');
  });
});

/** Rock Ridge names isoinfo lists, sorted. */
function isoinfoNames(iso: string): string[] {
  return execFileSync('isoinfo', ['-R', '-f', '-i', iso], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}
