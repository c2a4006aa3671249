/**
 * `contextgen validate DIR`: parse + validate a context directory, as the ISO command would.
 */
import { resolve } from 'node:path';
import { ContextError, type Problem } from '../../../lib/context/errors.js';
import type { Context } from '../../../lib/context/model.js';
import { validateContext } from '../../../lib/context/index.js';
import { loadContextDir } from '../context-build.js';
import { exists, type Io } from '../io.js';

export async function runValidate(dir: string, io: Io): Promise<{ context?: Context; problems: Problem[] }> {
  const full = resolve(io.cwd, dir);
  if (!(await exists(full))) return { problems: [{ file: dir, why: 'directory does not exist' }] };
  try {
    const { context } = await loadContextDir(full);
    return { context, problems: validateContext(context) };
  } catch (e) {
    if (e instanceof ContextError) return { problems: e.problems };
    throw e;
  }
}
