/**
 * While the x64 binary's startup snapshot is built, the modules evaluated into it must not capture
 * anything of the process: their state is frozen into the binary and every later run would see the
 * build machine's environment or streams (a Node stream object from build time writes nowhere).
 * So, from this module's evaluation until snapshotGuardDone(), reading process.env or
 * process.stdin/stdout/stderr throws and the build fails naming what was read. A module that needs
 * them at load time is loaded lazily instead (see system/exec.ts). Outside a snapshot build this
 * module does nothing.
 *
 * Not covered (no trap possible): values from `os` read at load. pino reads os.hostname() and the pid
 * into its default `base`; log.ts replaces that base, so neither reaches a log line.
 */
import { startupSnapshot } from 'node:v8';

// Node 22 answers 1, not true: never compare it with === true (that mistake ran the agent on the
// build machine once). snapshot.ts also refuses to run the command line unless this is set.
export const buildingSnapshot = Boolean(startupSnapshot?.isBuildingSnapshot?.());

/**
 * Variables a module of the snapshot reads at load time although what it derives from them never
 * matters to the agent, each with the reason. Anything else fails the build.
 */
const HARMLESS_ENV: Record<string, string> = {
  NODE_V8_COVERAGE: "thread-stream (pino's worker transports, which the agent never starts) passes it to workers",
};

const restore: (() => void)[] = [];

function refuse(what: string): never {
  throw new Error(`startup snapshot: ${what} was read while the boot path's modules were evaluated; load that module lazily (see agent/src/snapshot-guard.ts)`);
}

/** Whether the getter calling this was invoked by Node's own JavaScript (`node:internal/...`). */
function calledFromNodeInternals(): boolean {
  // Frames: [0] "Error", [1] this function, [2] the getter or trap, [3] whoever read the property.
  const caller = (new Error().stack ?? '').split('\n')[3] ?? '';
  return /[( ]node:internal\//.test(caller);
}

if (buildingSnapshot) {
  for (const name of ['stdin', 'stdout', 'stderr'] as const) {
    const own = Object.getOwnPropertyDescriptor(process, name);
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: true,
      // Node's own internals may read them (its console printing a warning, `assert` setting up its
      // colours): Node refreshes its own state after deserialization. Only other callers are refused.
      get: () => (calledFromNodeInternals() && own?.get ? own.get.call(process) : refuse(`process.${name}`)),
    });
    restore.push(() => {
      if (own) Object.defineProperty(process, name, own);
      else delete (process as unknown as Record<string, unknown>)[name];
    });
  }
  const env = process.env;
  process.env = new Proxy(env, {
    get: (t, k) => (typeof k === 'symbol' || Object.hasOwn(HARMLESS_ENV, k) || calledFromNodeInternals() ? Reflect.get(t, k) : refuse(`process.env.${k}`)),
    has: (t, k) => (calledFromNodeInternals() ? Reflect.has(t, k) : refuse(`process.env (${String(k)} in env)`)),
    ownKeys: (t) => (calledFromNodeInternals() ? Reflect.ownKeys(t) : refuse('process.env (its keys)')),
  });
  restore.push(() => {
    process.env = env;
  });
}

/** End of the guarded evaluation: process.env and the standard streams are the real ones again. */
export function snapshotGuardDone(): void {
  for (const undo of restore.splice(0).reverse()) undo();
}
