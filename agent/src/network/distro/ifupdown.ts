/**
 * ifupdown: the distribution's stanzas for a NIC the context configures (`auto`, `allow-*` and `iface`
 * with its option lines, in /etc/network/interfaces and interfaces.d) are disabled in place. ifupdown
 * merges every `iface` stanza of one name, so leaving the installer's `iface eth0 inet dhcp` next to our
 * static one gives the NIC both (and dhclient rewrites resolv.conf). `source` lines and every other
 * interface's lines are kept as they are; a list such as `auto lo eth0` keeps `lo` on an added line.
 */
import { IFUPDOWN_PATH } from '../renderers/ifupdown.js';
import type { PlannedFile } from '../../types/plan.js';
import type { ResolvedNic, SystemView } from '../../types/network.js';
import { ADDED, DISABLED, NOTE, editOf, restoreOriginal } from './marks.js';

const MAIN = '/etc/network/interfaces';
const DIR = '/etc/network/interfaces.d';
const OURS = IFUPDOWN_PATH.slice(DIR.length + 1);

/** Words that start a new stanza (interfaces(5)); any other non-comment line is an option of the current one. */
function isStanzaWord(w: string): boolean {
  return ['iface', 'mapping', 'auto', 'source', 'source-directory', 'rename', 'no-auto-down', 'no-scripts'].includes(w) || w.startsWith('allow-');
}

const isMark = (l: string): boolean => l.startsWith(DISABLED) || l.startsWith(NOTE) || l === ADDED;

/** `original` with every stanza line of `names` disabled; also which of them it defined. */
export function disableStanzas(original: string, names: ReadonlySet<string>): { text: string; hits: string[] } {
  const lines = original.split('\n');
  const out: string[] = [];
  const hits = new Set<string>();
  let disabling = false; // inside the option lines of an iface stanza of ours
  const disable = (phys: string[], nic: string[]): void => {
    nic.forEach((n) => hits.add(n));
    if (!isMark(out[out.length - 1] ?? '')) out.push(`${NOTE}${nic.join(', ')}: configured by the context (${IFUPDOWN_PATH}), not here`);
    out.push(...phys.map((l) => DISABLED + l));
  };
  for (let i = 0; i < lines.length; ) {
    // A logical line: a trailing backslash continues it on the next physical line.
    let j = i;
    while (lines[j]!.endsWith('\\') && j + 1 < lines.length) j++;
    const phys = lines.slice(i, j + 1);
    i = j + 1;
    const logical = phys.map((l) => l.replace(/\\$/, '')).join(' ').trim();
    if (logical === '' || logical.startsWith('#')) {
      out.push(...phys);
      continue;
    }
    const words = logical.split(/\s+/);
    const kw = words[0]!;
    if (!isStanzaWord(kw)) {
      if (disabling) out.push(...phys.map((l) => DISABLED + l));
      else out.push(...phys);
      continue;
    }
    disabling = false;
    if (kw === 'iface' && words[1] !== undefined && names.has(words[1])) {
      disabling = true;
      disable(phys, [words[1]]);
    } else if (kw === 'auto' || kw.startsWith('allow-')) {
      const ours = words.slice(1).filter((w) => names.has(w));
      const rest = words.slice(1).filter((w) => !names.has(w));
      if (ours.length === 0) out.push(...phys);
      else {
        disable(phys, ours);
        if (rest.length > 0) out.push(ADDED, `${kw} ${rest.join(' ')}`);
      }
    } else out.push(...phys);
  }
  return { text: out.join('\n'), hits: [...hits] };
}

/** /etc/network/interfaces and the interfaces.d files it may source, ours excepted. */
function distroFiles(sys: SystemView): string[] {
  const parts = sys.listDir(DIR).filter((n) => !n.startsWith('.') && !n.startsWith(OURS)).map((n) => `${DIR}/${n}`);
  return [MAIN, ...parts];
}

export function ifupdownEdits(sys: SystemView, nics: readonly ResolvedNic[]): PlannedFile[] {
  const names = new Set(nics.map((n) => n.name));
  const out: PlannedFile[] = [];
  for (const path of distroFiles(sys)) {
    const current = sys.readFile(path);
    if (current === undefined) continue;
    const { text, hits } = disableStanzas(restoreOriginal(current), names);
    const edit = editOf(path, current, text, 0o644, hits, "the distribution's ifupdown stanzas");
    if (edit) out.push(edit);
  }
  return out;
}

/** Whether the distribution's own files (as restored) define `name`: then its own stanza does DHCP without us. */
export function ifupdownDefines(sys: SystemView, name: string): boolean {
  return distroFiles(sys).some((p) => {
    const t = sys.readFile(p);
    return t !== undefined && disableStanzas(restoreOriginal(t), new Set([name])).hits.length > 0;
  });
}
