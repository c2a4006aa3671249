/**
 * Plain entry of the agent: runs the command line. The arm64 binary is built from it (a startup
 * snapshot must be made by the runtime it is for, which cannot run here), and so is any run from the
 * sources (`npx tsx agent/src/bin.ts`). The x64 binary's entry is snapshot.ts.
 */
import { runCli } from './cli.js';

void runCli(process.argv);
