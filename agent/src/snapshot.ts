/**
 * Entry of the x64 agent binary, which starts from a V8 startup snapshot (build/build.mjs, SEA
 * `useSnapshot`). When the binary is built, this file evaluates the boot path once (the command line,
 * both stages, disable/enable, the logger, status) and V8 saves the heap; each run then deserializes
 * that heap instead of evaluating those ~390 modules again. Natively that is ~100 ms of a `local` run;
 * under QEMU/TCG at boot it is seconds per unit (bench/startup.ts, bench/boot.ts).
 *
 * The guard must be the first import: it makes a module that captures the process at load time fail
 * the build instead of freezing the build machine's state into every VM. Commands not listed here
 * (install, status --system) still load lazily at run time, as in bin.ts.
 */
import { buildingSnapshot, snapshotGuardDone } from './snapshot-guard.js';
import { startupSnapshot } from 'node:v8';
import { runCli } from './cli.js';
import './stages/local.js';
import './stages/final.js';
import './stages/disable.js';
import './state/status.js';
import './log.js';

snapshotGuardDone();

// Only ever the command line of a deserialized binary: evaluated any other way (a misdetected build,
// `tsx snapshot.ts`), running it would apply the default `boot` to the machine doing the evaluating.
if (!buildingSnapshot) throw new Error('agent/src/snapshot.ts is only the entry of a startup snapshot build; run agent/src/bin.ts');
startupSnapshot.setDeserializeMainFunction(() => void runCli(process.argv));
