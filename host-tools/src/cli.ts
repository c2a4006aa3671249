/**
 * Entry point of the `contextgen` binary. Exports nothing: the logic is in program.ts (importable,
 * tested in-process); this file only runs it with the real process arguments and streams.
 */
import { main } from './program.js';

void main(process.argv).then((code) => {
  process.exitCode = code;
});
