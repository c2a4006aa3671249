/**
 * Seeded fuzzing of the context parser and of the ISO reader -> parser pipeline. Every case must end in
 * a Context or a ContextError / IsoError whose lines each name the file at fault: never another
 * exception type, never a slow case, never a large heap jump. Reproduce a failure with FUZZ_SEED=<seed>
 * (printed in the failure message). test/iso9660/hostile.test.ts covers the reader alone; here the
 * whole agent read path (openIso -> readAllFiles -> parseContext) is driven.
 */
import { describe, expect, it } from 'vitest';
import { ContextError, parseContext, serializeContext, type Context, type ContextFiles } from '../../lib/context/index.js';
import { IsoError, openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { EXTENDED, SNOOZE, fuzzSeed, isoBytes, prng } from '../support/fake-roots.js';

const SEED = fuzzSeed();
const CASE_MS = 1000;
const HEAP_JUMP = 128 * 1024 * 1024;
const HOSTILE = ['\n', '\r', '\0', '$', '`', ';', '|', '&', "'", '"', '\u202e', '\u200b', '=', '[', ']', '#', ' ', '\t', '\\'];
const KNOWN_FILES = new Set(['common/network', 'common/routes', 'common/context.ini', 'common/authorized_keys', 'post-install', '(context)']);
// Control characters other than tab, plus DEL and the C1 range: none may reach the model.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

type Rnd = ReturnType<typeof prng>;

/** One mutation of a text file, chosen at random. */
function mutate(rnd: Rnd, src: Buffer): Buffer {
  const b = Buffer.from(src);
  switch (rnd.int(7)) {
    case 0: { // bit flips
      const out = Buffer.from(b);
      for (let i = 1 + rnd.int(4); i > 0 && out.length; i--) out[rnd.int(out.length)]! ^= 1 << rnd.int(8);
      return out;
    }
    case 1: { // hostile byte insertions
      let s = b.toString('latin1');
      for (let i = 1 + rnd.int(3); i > 0; i--) {
        const at = rnd.int(s.length + 1);
        s = s.slice(0, at) + rnd.pick(HOSTILE) + s.slice(at);
      }
      return Buffer.from(s, 'utf8');
    }
    case 2: return b.subarray(0, rnd.int(b.length + 1)); // truncation
    case 3: { // duplicate a line
      const lines = b.toString('utf8').split('\n');
      const i = rnd.int(lines.length);
      lines.splice(rnd.int(lines.length + 1), 0, lines[i]!);
      return Buffer.from(lines.join('\n'));
    }
    case 4: { // huge line, sometimes past the 64 KiB text limit
      const lines = b.toString('utf8').split('\n');
      const i = rnd.int(lines.length);
      lines[i] = lines[i]! + rnd.pick(['a', '1', ' ', '.', ':']).repeat(rnd.pick([300, 5000, 70_000]));
      return Buffer.from(lines.join('\n'));
    }
    case 5: { // random bytes replacing a slice
      const at = rnd.int(b.length + 1);
      const junk = Buffer.alloc(1 + rnd.int(16));
      for (let i = 0; i < junk.length; i++) junk[i] = rnd.int(256);
      return Buffer.concat([b.subarray(0, at), junk, b.subarray(at + rnd.int(8))]);
    }
    default: { // swap two lines
      const lines = b.toString('utf8').split('\n');
      const i = rnd.int(lines.length);
      const j = rnd.int(lines.length);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return Buffer.from(lines.join('\n'));
    }
  }
}

function baseFiles(which: typeof SNOOZE): ContextFiles {
  return new Map(Object.entries(which).map(([k, v]) => [k, Buffer.from(v)]));
}

function* strings(v: unknown, path = 'ctx'): Generator<[string, string]> {
  if (typeof v === 'string') yield [path, v];
  else if (Array.isArray(v)) for (let i = 0; i < v.length; i++) yield* strings(v[i], `${path}[${i}]`);
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) yield* strings(x, `${path}.${k}`);
}

interface Tally { ok: number; rejected: number; maxMs: number; maxHeapJump: number }

/** The contract of one case; throws an Error naming the seed and case on any breach. */
function checkCase(label: string, fn: () => Context, t: Tally, inputs: () => Iterable<string> = () => []): void {
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let ctx: Context | undefined;
  try {
    ctx = fn();
  } catch (e) {
    if (e instanceof ContextError) {
      expect(e.problems.length, label).toBeGreaterThan(0);
      // Every problem names a file that was in the input (or the context as a whole).
      const names = new Set([...KNOWN_FILES, ...inputs()]);
      for (const p of e.problems) {
        if (!names.has(p.file)) throw new Error(`${label}: problem names unexpected file ${JSON.stringify(p.file)}`);
      }
      const lines = e.message.split('\n');
      if (lines.length !== e.problems.length) throw new Error(`${label}: ${e.problems.length} problems rendered on ${lines.length} lines`);
      for (const line of lines) {
        if (line.length > 800) throw new Error(`${label}: error line of ${line.length} characters: ${JSON.stringify(line.slice(0, 160))}`);
        if (/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(line)) throw new Error(`${label}: raw control character in an error line: ${JSON.stringify(line.slice(0, 160))}`);
      }
    } else if (e instanceof IsoError) {
      if (e.message.includes('\n')) throw new Error(`${label}: multi-line IsoError`);
      if (!/ISO|iso|image|path|file|director|extent|record|volume|entry/i.test(e.message)) throw new Error(`${label}: IsoError names nothing: ${e.message}`);
    } else {
      throw new Error(`${label}: threw ${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 300)}`);
    }
    t.rejected++;
  }
  const ms = performance.now() - t0;
  const jump = process.memoryUsage().heapUsed - heap0;
  t.maxMs = Math.max(t.maxMs, ms);
  t.maxHeapJump = Math.max(t.maxHeapJump, jump);
  if (ms > CASE_MS) throw new Error(`${label}: took ${ms.toFixed(0)} ms (bound ${CASE_MS})`);
  if (jump > HEAP_JUMP) throw new Error(`${label}: heap grew ${(jump / 1048576).toFixed(0)} MiB`);
  if (!ctx) return;
  t.ok++;
  // Property: the model holds no control characters (the script is code, not a value: it may have newlines).
  for (const [where, s] of strings({ ...ctx, postInstall: ctx.postInstall ? { ...ctx.postInstall, script: '' } : undefined })) {
    if (CONTROL.test(s)) throw new Error(`${label}: control character in ${where} = ${JSON.stringify(s)}`);
  }
  if (ctx.postInstall && ctx.postInstall.script.includes('\0')) throw new Error(`${label}: NUL in the post-install script`);
  // Property: serialize -> parse round-trips.
  let again: Context;
  try {
    again = parseContext(serializeContext(ctx));
  } catch (e) {
    throw new Error(`${label}: parsed, but serialize->parse failed: ${(e as Error).message.split('\n')[0]}`);
  }
  expect(again, `${label}: round trip`).toEqual(ctx);
}

function withSeed(name: string, body: () => void): void {
  try {
    body();
  } catch (e) {
    throw new Error(`[FUZZ_SEED=${SEED}] ${name}: ${(e as Error).message}`);
  }
}

describe(`hardening fuzz (FUZZ_SEED=${SEED})`, () => {
  const targets = ['common/network', 'common/routes', 'common/context.ini', 'common/authorized_keys', 'post-install'] as const;

  for (const target of targets) {
    it(`mutated ${target}: 1500 cases end in a Context or a ContextError naming the file`, () => {
      withSeed(target, () => {
        const rnd = prng(SEED ^ target.length * 0x9e3779b1);
        const t: Tally = { ok: 0, rejected: 0, maxMs: 0, maxHeapJump: 0 };
        for (let i = 0; i < 1500; i++) {
          const base = baseFiles(rnd.int(3) === 0 && target !== 'common/context.ini' && target !== 'common/authorized_keys' ? SNOOZE : EXTENDED);
          let buf = base.get(target) ?? Buffer.alloc(0);
          for (let m = 1 + rnd.int(3); m > 0; m--) buf = mutate(rnd, buf);
          base.set(target, buf);
          checkCase(`${target} case ${i}`, () => parseContext(base), t, () => base.keys());
        }
        console.log(`${target}: ${t.ok} parsed, ${t.rejected} rejected, slowest ${t.maxMs.toFixed(1)} ms`);
        // Both outcomes must occur, or the mutations do not reach the parser.
        expect(t.ok).toBeGreaterThan(0);
        expect(t.rejected).toBeGreaterThan(0);
      });
    });
  }

  it('random bytes in every file: 1000 cases', () => {
    withSeed('random bytes', () => {
      const rnd = prng(SEED + 1);
      const t: Tally = { ok: 0, rejected: 0, maxMs: 0, maxHeapJump: 0 };
      for (let i = 0; i < 1000; i++) {
        const files: ContextFiles = new Map();
        for (const p of targets) {
          if (rnd.int(2)) continue;
          const b = Buffer.alloc(rnd.int(rnd.int(4) === 0 ? 70_000 : 200));
          // Mostly printable, so some cases get past the first byte check.
          for (let j = 0; j < b.length; j++) b[j] = rnd.int(3) ? 32 + rnd.int(95) : rnd.int(256);
          files.set(p, b);
        }
        checkCase(`random case ${i}`, () => parseContext(files), t, () => files.keys());
      }
      expect(t.rejected).toBeGreaterThan(0);
    });
  });

  it('mutated valid ISOs through openIso + readAllFiles + parseContext: 1500 cases', () => {
    withSeed('iso', () => {
      const rnd = prng(SEED + 2);
      const bases = [isoBytes(EXTENDED), isoBytes(SNOOZE)];
      const t: Tally = { ok: 0, rejected: 0, maxMs: 0, maxHeapJump: 0 };
      for (let i = 0; i < 1500; i++) {
        const base = rnd.pick(bases);
        let b = Buffer.from(base);
        const kind = rnd.int(4);
        if (kind === 0) b = b.subarray(0, rnd.int(b.length)); // truncated image
        else {
          // Metadata region (descriptors, path tables, directories) or file data, byte-level.
          const lo = kind === 1 ? 16 * 2048 : 0;
          const hi = kind === 1 ? Math.min(b.length, 40 * 2048) : b.length;
          for (let f = 1 + rnd.int(16); f > 0; f--) b[lo + rnd.int(hi - lo)] = rnd.int(3) ? rnd.int(256) : rnd.pick([0, 0xff, 0x0a, 0x24, 0x3b]);
        }
        let read: ContextFiles = new Map();
        checkCase(`iso case ${i} (kind ${kind})`, () => {
          const img = openIso(b, { maxFileSize: 1 << 20, maxTotalSize: 8 << 20 });
          try {
            read = readAllFiles(img);
            return parseContext(read);
          } finally { img.close(); }
        }, t, () => read.keys());
      }
      console.log(`iso: ${t.ok} parsed, ${t.rejected} rejected, slowest ${t.maxMs.toFixed(1)} ms, max heap jump ${(t.maxHeapJump / 1048576).toFixed(1)} MiB`);
      expect(t.ok).toBeGreaterThan(0);
      expect(t.rejected).toBeGreaterThan(0);
    });
  });
});
