/**
 * The validation catalog (lib/context/rules.ts): each rule once, the same answer wherever it is
 * asked: the context parsers, validateContext (models from contextgen flags) and host-tools' values.
 */
import { describe, expect, it } from 'vitest';
import {
  FORBIDDEN_CHAR, POST_INSTALL_MODES, checkCanonicalMac, checkDomain, checkHostLabel, checkHostname, checkIfname, checkInstanceId, checkInt,
  checkLine, checkMac, checkNicLabel, checkNumber, checkPostInstallMode, emptyContext, formatProblem, validateContext,
} from '../../lib/context/index.js';
import * as values from '../../host-tools/src/values.js';
import { problemsOf } from './helpers.js';

const INI = 'common/context.ini';
const NET = 'common/network';

describe('MAC rule: normalised; all-zero, broadcast and multicast never a NIC', () => {
  it.each([
    ['52:54:00:AB:cd:EF', { ok: true, value: '52:54:00:ab:cd:ef' }],
    ['52-54-00-ab-cd-ef', { ok: true, value: '52:54:00:ab:cd:ef' }],
    ['00:00:00:00:00:00', { ok: false, why: 'the all-zero MAC is never the address of a NIC' }],
    ['FF:FF:FF:FF:FF:FF', { ok: false, why: 'the broadcast MAC is never the address of a NIC' }],
    ['01:00:5e:00:00:01', { ok: false, why: 'multicast MAC (first octet is odd): never the address of a NIC' }],
    ['52:54:00:ab:cd', { ok: false, why: 'not a MAC address (six hex pairs separated by ":" or "-")' }],
  ])('checkMac(%s)', (input, want) => {
    expect(checkMac(input)).toEqual(want);
    // host-tools takes the catalog's rule itself, not a copy.
    expect(values.checkMac(input)).toEqual(want);
  });

  // Before the catalog, context.ini and validateContext accepted the all-zero MAC that contextgen refused.
  it('context.ini refuses an all-zero or broadcast [nic] label', () => {
    expect(problemsOf({ [NET]: '', [INI]: '[nic "00:00:00:00:00:00"]\nmethod = dhcp\n' })).toEqual([
      `${INI}: line 1 = "00:00:00:00:00:00": the all-zero MAC is never the address of a NIC`,
    ]);
    expect(problemsOf({ [NET]: '', [INI]: '[nic "ff-ff-ff-ff-ff-ff"]\nmethod = dhcp\n' })).toEqual([
      `${INI}: line 1 = "ff-ff-ff-ff-ff-ff": the broadcast MAC is never the address of a NIC`,
    ]);
  });

  it('validateContext refuses an all-zero MAC in a model built in memory', () => {
    const ctx = emptyContext();
    ctx.nics = [{ match: { kind: 'mac', mac: '00:00:00:00:00:00' }, method: 'dhcp' }];
    expect(validateContext(ctx).map(formatProblem)).toEqual([
      `${INI}: nic "00:00:00:00:00:00" = "00:00:00:00:00:00": the all-zero MAC is never the address of a NIC`,
    ]);
    expect(checkCanonicalMac('52:54:00:AB:CD:EF').ok).toBe(false);
  });

  it('a NIC label is a MAC when written like one, else an interface name', () => {
    expect(checkNicLabel('52-54-00-AB-CD-EF')).toEqual({ ok: true, value: { kind: 'mac', mac: '52:54:00:ab:cd:ef' } });
    expect(checkNicLabel('eth0.100')).toEqual({ ok: true, value: { kind: 'name', name: 'eth0.100' } });
    expect(checkNicLabel('00:00:00:00:00:00')).toEqual({ ok: false, why: 'the all-zero MAC is never the address of a NIC' });
  });
});

describe('names', () => {
  it.each(['eth0', 'ens3', 'eth0.100', 'br-lan', 'a'.repeat(15)])('interface name %s is accepted', (s) => {
    expect(checkIfname(s)).toEqual({ ok: true, value: s });
  });
  it.each(['', '.eth', '-eth', '_eth', 'eth0:1', 'eth/0', 'eth 0', 'a'.repeat(16)])('interface name %j is refused', (s) => {
    expect(checkIfname(s).ok).toBe(false);
  });
  it('a bridge is an interface: the same rule, its own noun', () => {
    expect(values.checkBridge('eth0:1')).toEqual({ ok: false, why: 'bridge name must be 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . _ -)' });
    expect(values.checkBridge('virbr0')).toEqual({ ok: true, value: 'virbr0' });
  });

  it.each(['web01', 'a.b:c_d-1', 'x'.repeat(128)])('instance id %s is accepted', (s) => {
    expect(checkInstanceId(s).ok).toBe(true);
  });
  // The id names a directory (instances/<id>/) and ends up on command lines.
  it.each(['.', '..', '-o', '.hidden', '_x', ':x', 'a/b', 'a b', '', 'x'.repeat(129)])('instance id %j is refused', (s) => {
    expect(checkInstanceId(s)).toEqual({ ok: false, why: 'instance id must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit' });
  });

  it('host names, domains and host labels share one label rule', () => {
    expect(checkHostname('web01.example.org').ok).toBe(true);
    expect(checkHostname('web-.example.org')).toEqual({ ok: false, why: 'label "web-" starts or ends with a hyphen' });
    expect(checkDomain('example..org')).toEqual({ ok: false, why: 'empty label (two dots in a row, or a leading dot)' });
    expect(checkDomain('exa mple.org')).toEqual({ ok: false, why: 'domain names are ASCII letters, digits, hyphens and dots only (no spaces, no Unicode look-alikes)' });
    expect(checkHostLabel('web01')).toEqual({ ok: true, value: 'web01' });
    expect(checkHostLabel('web01.x').ok).toBe(false);
    expect(values.checkHostLabel).toBe(checkHostLabel);
  });
});

describe('post-install modes: one list', () => {
  it('accepts exactly the documented modes', () => {
    expect(POST_INSTALL_MODES).toEqual(['per-instance', 'per-boot', 'disabled']);
    for (const m of POST_INSTALL_MODES) expect(checkPostInstallMode(m)).toEqual({ ok: true, value: m });
    expect(checkPostInstallMode('always')).toEqual({ ok: false, why: 'must be one of per-instance, per-boot, disabled' });
  });
});

describe('numbers', () => {
  it.each([
    ['1500', { ok: true, value: 1500 }],
    ['67', { ok: false, why: 'must be from 68 to 65535' }],
    ['1500.5', { ok: false, why: 'must be a whole number from 68 to 65535' }],
    [' 1500', { ok: false, why: 'must be a whole number from 68 to 65535' }],
    ['-1', { ok: false, why: 'must be a whole number from 68 to 65535' }],
    ['1e3', { ok: false, why: 'must be a whole number from 68 to 65535' }],
    ['99999999999999999', { ok: false, why: 'must be a whole number from 68 to 65535' }],
  ])('checkInt(%j, 68, 65535)', (s, want) => {
    expect(checkInt(s, 68, 65535)).toEqual(want);
  });
  it('units name what is counted; host-tools uses the same function', () => {
    expect(checkInt('lots', 16, 1024, 'MiB')).toEqual({ ok: false, why: 'must be a whole number of MiB from 16 to 1024' });
    expect(checkInt('8', 16, 1024, 'MiB')).toEqual({ ok: false, why: 'must be from 16 to 1024 MiB' });
    expect(values.checkInt).toBe(checkInt);
    expect(checkNumber(1.5, 0, 3)).toEqual({ ok: false, why: 'must be a whole number from 0 to 3' });
  });
});

describe('one character set for values and lines', () => {
  // Before the catalog, host-tools refused TAB but let C1 controls, U+2028 and bidi overrides through.
  it.each([
    ['\u0000', 'contains a NUL byte'],
    ['a\nb', 'contains control character U+000A'],
    ['a\rb', 'contains a carriage return (only CRLF line ends are tolerated)'],
    ['\u007f', 'contains control character U+007F'],
    ['\u0085', 'contains control character U+0085'],
    ['\u2028', 'contains control character U+2028'],
    ['\u202e', 'contains bidirectional control U+202E (text would display otherwise than it reads)'],
    ['\u2066', 'contains bidirectional control U+2066 (text would display otherwise than it reads)'],
    ['\u200f', 'contains bidirectional control U+200F (text would display otherwise than it reads)'],
  ])('%j is refused by the context and by host-tools alike', (c, why) => {
    expect(checkLine(`x${c}y`)).toEqual({ ok: false, why });
    expect(values.checkLine(`x${c}y`)).toEqual({ ok: false, why });
  });
  it('TAB and ordinary Unicode pass (names in key comments)', () => {
    expect(checkLine('a\tb José Ωmega').ok).toBe(true);
  });
  it('a bidi override in a context file is refused with its line', () => {
    expect(problemsOf({ [NET]: '# harmless \u202e)toober($\nGATEWAY=\n' })).toEqual([
      `${NET}: line 1 = "# harmless \\u202e)toober($": contains bidirectional control U+202E (text would display otherwise than it reads)`,
    ]);
  });
  it('paths in configs: the same set, plus TAB', () => {
    expect(values.checkConfigPath('/var/lib/a\tb.qcow2')).toEqual({ ok: false, why: 'path contains a control character or newline' });
    expect(values.checkConfigPath('/var/lib/\u202eb.qcow2')).toEqual({ ok: false, why: 'path contains a control character or newline' });
    expect(values.checkConfigPath('/var/lib/vm.qcow2')).toEqual({ ok: true, value: '/var/lib/vm.qcow2' });
    expect(FORBIDDEN_CHAR.test('\t')).toBe(false);
  });
});
