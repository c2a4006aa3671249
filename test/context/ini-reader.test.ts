/** lib/ini, the one strict INI reader: both dialects as their documents state them. */
import { describe, expect, it } from 'vitest';
import { FirstSeen, iniItems, unquote, type IniDialect } from '../../lib/ini/index.js';
import { parseIni } from '../../host-tools/src/batch/ini.js';

const lines = (text: string) => text.split('\n').map((t, i) => ({ n: i + 1, text: t }));
const INVENTORY: IniDialect = { inlineComments: true, quotes: '"', sectionName: /^[^\]]*$/ };
const CONTEXT_INI: IniDialect = { inlineComments: false, quotes: `"'`, sectionName: /^.*$/s };

describe('lib/ini', () => {
  it('inventory dialect: inline comments after whitespace, double quotes keep ; and #', () => {
    const items = [...iniItems(lines('; top\n[vm web01]  # the web\nmemory = 512 ; MiB\nnote = "a ; b # c"\nurl = http://x/#frag\n'), INVENTORY)];
    expect(items.map((i) => (i.kind === 'entry' ? [i.n, i.key, i.value] : [i.n, i.kind, i.kind === 'section' ? i.name : '']))).toEqual([
      [2, 'section', 'vm web01'], [3, 'memory', '512'], [4, 'note', 'a ; b # c'], [5, 'url', 'http://x/#frag'],
    ]);
  });

  it('context.ini dialect: no inline comments (left in the value for the caller to refuse), both quote kinds', () => {
    const items = [...iniItems(lines('# c\n[nic "eth0"]\nmtu = 1500 ; no\nhostname = \'h1\'\ndomain = "d.example"\nx = "a\'b"\n'), CONTEXT_INI)];
    expect(items.map((i) => (i.kind === 'entry' ? [i.key, i.rawValue, i.value] : [i.kind]))).toEqual([
      ['section'], ['mtu', '1500 ; no', '1500 ; no'], ['hostname', "'h1'", 'h1'], ['domain', '"d.example"', 'd.example'], ['x', '"a\'b"', undefined],
    ]);
  });

  it('unquote: unbalanced or inner quotes are undefined, never guessed', () => {
    expect(unquote('"abc', '"')).toBeUndefined();
    expect(unquote('a"b', '"')).toBeUndefined();
    expect(unquote('""', '"')).toBe('');
    expect(unquote("'x'", '"')).toBe("'x'"); // single quotes are text in the inventory dialect
  });

  it('FirstSeen names the first line of a repeat', () => {
    const s = new FirstSeen();
    expect(s.repeatOf('vm a', 3)).toBeUndefined();
    expect(s.repeatOf('vm a', 9)).toBe(3);
  });

  it('the inventory refuses repeated sections and keys with one problem naming file, line, section and key', () => {
    const r = parseIni('[defaults]\nmemory = 1\nMemory = 2\n[vm a]\n[vm  a]\nx = 1\n', 'inv.ini');
    expect(r.problems).toEqual([
      { file: 'inv.ini', key: '[defaults] Memory', value: '2', why: 'key repeated in section (first at line 2)' },
      { file: 'inv.ini', key: 'line 5', value: '[vm a]', why: 'section repeated (first at line 4)' },
    ]);
  });
});
