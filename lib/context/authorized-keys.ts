/**
 * common/authorized_keys: one OpenSSH public key per line, `type base64-blob [comment]`. Blank lines
 * and `#` comments are allowed. Key options (`command="..."`, `from=...`) are refused: they are a
 * second language inside the line, and root's keys from a context never need them.
 */
import type { Problems } from './errors.js';
import { CONTEXT_PATHS } from './model.js';
import { LIMITS } from './limits.js';
import { readLines } from './text.js';
import { bad, checkLine, ok, type Checked } from './rules.js';

const FILE = CONTEXT_PATHS.authorizedKeys;

export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The canonical line for a key line (`type blob[ comment]`), or why it is not a key. */
export function checkAuthorizedKey(line: string): Checked<string> {
  if (Buffer.byteLength(line) > LIMITS.authorizedKeyBytes) return bad(`longer than ${LIMITS.authorizedKeyBytes} bytes`);
  const ctl = checkLine(line);
  if (!ctl.ok) return ctl;
  const m = /^[ \t]*(\S+)[ \t]+(\S+)(?:[ \t]+(.*?))?[ \t]*$/.exec(line);
  if (!m) return bad('expected "TYPE BASE64 [COMMENT]"');
  const [, type, blob, comment] = m as unknown as [string, string, string, string | undefined];
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    if (/[=,"]/.test(type) || type.includes('command') || type.includes('from')) {
      return bad('key options (command=, from=, ...) are not supported; give the bare key');
    }
    return bad(`unknown key type "${type}" (known: ${SSH_KEY_TYPES.join(', ')})`);
  }
  if (!BASE64.test(blob) || blob.length % 4 !== 0) return bad('the key is not valid base64');
  // The blob starts with its own type as an SSH string (uint32 length + bytes): a cheap proof that
  // the line was not mangled (e.g. a key pasted with the wrong type).
  const bytes = Buffer.from(blob, 'base64');
  const len = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  const inner = len > 0 && len <= 64 && bytes.length >= 4 + len ? bytes.subarray(4, 4 + len).toString('latin1') : undefined;
  if (inner !== type) return bad(inner ? `the key data says "${inner}" but the line says "${type}"` : 'the key data is not an SSH public key');
  return ok(comment ? `${type} ${blob} ${comment}` : `${type} ${blob}`);
}

export function parseAuthorizedKeysFile(buf: Buffer, problems: Problems): string[] {
  const keys: string[] = [];
  const blobs = new Set<string>(); // type + key data: the same key with another comment is still a repeat
  for (const { n, text } of readLines(FILE, buf, LIMITS.textFileBytes, problems)) {
    const s = text.trim();
    if (s === '' || s.startsWith('#')) continue;
    const r = checkAuthorizedKey(text);
    if (!r.ok) problems.add(FILE, `line ${n}`, text, r.why);
    else {
      const id = r.value.split(' ', 2).join(' ');
      if (blobs.has(id)) problems.add(FILE, `line ${n}`, text, 'the same key is listed twice');
      else {
        blobs.add(id);
        keys.push(r.value);
      }
    }
  }
  if (keys.length > LIMITS.authorizedKeys) problems.add(FILE, undefined, undefined, `more than ${LIMITS.authorizedKeys} keys`);
  return keys;
}

export function serializeAuthorizedKeysFile(keys: string[]): string {
  return keys.map((k) => `${k}\n`).join('');
}
