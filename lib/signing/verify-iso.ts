/**
 * The agent's one call: read a context image once and verify it. The files returned are the very
 * buffers that were verified, so nothing can change between the check and the use.
 */
import type { ContextFiles } from '../context/model.js';
import { openIso, type IsoLimits } from '../iso9660/index.js';
import { inputFromIso } from './input.js';
import type { PublicKey } from './keys.js';
import { verifyContext, type Verdict, type VerifyFacts } from './signature.js';

export function verifyIso(source: string | Buffer, trusted: PublicKey[], facts: VerifyFacts, limits: Partial<IsoLimits> = {}): { verdict: Verdict; files: ContextFiles; label: string } {
  const img = openIso(source, limits);
  try {
    const input = inputFromIso(img);
    const files: ContextFiles = new Map();
    for (const [p, e] of input.files) if (!e.symlink) files.set(p, e.data);
    return { verdict: verifyContext(input, trusted, facts), files, label: input.label };
  } finally {
    img.close();
  }
}
