/**
 * Root's authorized_keys: the context's keys live in one delimited block the agent owns; the user's own
 * keys around it are kept as they are. A new context replaces the block; no keys removes it.
 */
import { emptyPlan, type Plan } from '../types/plan.js';

const BEGIN = '# BEGIN contextualization (keys from the context CD; edits inside this block are replaced)';
const END = '# END contextualization';

export function planAuthorizedKeys(keys: string[], current: string | undefined): Plan {
  const plan = emptyPlan();
  const text = current ?? '';
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  let inBlock = false;
  for (const l of lines) {
    if (l === BEGIN) inBlock = true;
    else if (l === END) inBlock = false;
    else if (!inBlock) out.push(l);
  }
  if (keys.length) out.push(BEGIN, ...keys, END);
  const content = out.length ? `${out.join('\n')}\n` : '';
  if (content === text) return plan;
  if (current === undefined && keys.length === 0) return plan;
  plan.files.push({ path: '/root/.ssh/authorized_keys', content, mode: 0o600, dirMode: 0o700, reason: `${keys.length} root SSH key(s) from the context` });
  return plan;
}
