import { checkInstanceId } from '../../../lib/context/rules.js';

/** Instance ids name directories (post-install markers): the catalog's rule (lib/context/rules.ts). */
export function isSafeInstanceId(id: string): boolean {
  return checkInstanceId(id).ok;
}

export function assertSafeInstanceId(id: string, where = 'instance id'): void {
  const c = checkInstanceId(id);
  if (!c.ok) throw new Error(`${where} = ${JSON.stringify(id.slice(0, 80))}: ${c.why.replace(/^instance id /, '')}`);
}
