/**
 * One limits definition (lib/context/limits.ts CONTEXT_READ_LIMITS): the in-process ISO reader, the
 * directory reader (contextgen's input and the agent's mounted CD) and parseContext/`contextgen
 * validate` accept and refuse the same contexts, with the same reason. Issue 10 row 10: the agent
 * took 512 files while contextgen wrote 1024; a 604-file context is the reproduction.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTEXT_READ_LIMITS, ContextError, LIMITS, fileLimit, formatProblem, limitWhy, parseContext, readContextDir,
} from '../../lib/context/index.js';
import { DEFAULT_ISO_LIMITS, IsoError, openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { runValidate } from '../../host-tools/src/commands/validate.js';
import type { Io } from '../../host-tools/src/io.js';
import { run, tempDir } from '../iso9660/helpers.js';

const tmp = tempDir('ctx-limits-');
afterAll(() => tmp.cleanup());

/** A context directory with `count` files in all: the Snooze network file plus data files for post-install. */
function contextDir(name: string, count: number): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'common'), { recursive: true });
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'common/network'), 'NETWORK=192.168.122.0\nNETMASK=255.255.255.0\nGATEWAY=192.168.122.1\n');
  for (let i = 1; i < count; i++) writeFileSync(join(dir, 'data', `f${String(i).padStart(4, '0')}`), `${i}\n`);
  return dir;
}

function isoOf(dir: string): string {
  const iso = `${dir}.iso`;
  run('genisoimage', ['-quiet', '-R', '-J', '-V', 'CONTEXT', '-o', iso, dir]);
  return iso;
}

function readIso(iso: string): Map<string, Buffer> {
  const img = openIso(iso);
  try {
    return readAllFiles(img);
  } finally {
    img.close();
  }
}

async function dirProblems(dir: string): Promise<string[]> {
  try {
    await readContextDir(dir);
    return [];
  } catch (e) {
    if (e instanceof ContextError) return e.problems.map(formatProblem);
    throw e;
  }
}

// runValidate reads nothing of Io but its working directory.
const io = { cwd: '/' } as Io;

describe('CONTEXT_READ_LIMITS is LIMITS, and the readers default to it', () => {
  it('same numbers', () => {
    expect(CONTEXT_READ_LIMITS).toMatchObject({
      files: 1024, totalBytes: LIMITS.totalBytes, depth: LIMITS.depth, pathBytes: LIMITS.pathBytes,
      textFileBytes: LIMITS.textFileBytes, postInstallBytes: LIMITS.postInstallBytes, otherFileBytes: LIMITS.otherFileBytes,
    });
    expect(DEFAULT_ISO_LIMITS).toMatchObject({
      maxFiles: CONTEXT_READ_LIMITS.files, maxTotalSize: CONTEXT_READ_LIMITS.totalBytes,
      maxDepth: CONTEXT_READ_LIMITS.depth, maxFileSize: CONTEXT_READ_LIMITS.otherFileBytes,
    });
    expect(fileLimit('common/network')).toBe(LIMITS.textFileBytes);
    expect(fileLimit('post-install')).toBe(LIMITS.postInstallBytes);
    expect(fileLimit('data/blob')).toBe(LIMITS.otherFileBytes);
  });
});

describe('604 files (issue 10 row 10): accepted by every reader', () => {
  let dir: string;
  let iso: string;
  beforeAll(() => {
    dir = contextDir('ctx604', 604);
    iso = isoOf(dir);
  });

  it('the in-process ISO reader, the directory reader, parseContext and contextgen validate', async () => {
    const fromIso = readIso(iso);
    const fromDir = await readContextDir(dir);
    expect(fromIso.size).toBe(604);
    expect([...fromDir.keys()].sort()).toEqual([...fromIso.keys()].sort());
    expect(parseContext(fromIso).legacySubnet?.network).toEqual({ address: '192.168.122.0', prefix: 24 });
    expect((await runValidate(dir, io)).problems).toEqual([]);
  });
});

describe('1025 files: refused by every reader with the same line', () => {
  let dir: string;
  let iso: string;
  const why = 'more than 1024 files; a context holds at most 1024';
  beforeAll(() => {
    dir = contextDir('ctx1025', 1025);
    iso = isoOf(dir);
  });

  it('the one wording', () => {
    expect(limitWhy.files()).toBe(why);
  });

  it('the in-process ISO reader names the image once', () => {
    expect(() => readIso(iso)).toThrow(IsoError);
    expect(() => readIso(iso)).toThrow(new RegExp(`^ISO image ${JSON.stringify(iso)}: ${why}$`));
  });

  it('the directory reader names the directory once', async () => {
    expect(await dirProblems(dir)).toEqual([`${dir}: ${why}`]);
  });

  it('contextgen validate (the directory reader) and parseContext (files already read)', async () => {
    expect((await runValidate(dir, io)).problems.map(formatProblem)).toEqual([`${dir}: ${why}`]);
    const files = new Map<string, Buffer>([['common/network', Buffer.from('')]]);
    for (let i = 1; i < 1025; i++) files.set(`data/f${i}`, Buffer.from(''));
    try {
      parseContext(files);
      throw new Error('parseContext accepted 1025 files');
    } catch (e) {
      expect((e as ContextError).problems.map(formatProblem)).toEqual([`(context): ${why}`]);
    }
  });

  it('exactly 1024 is accepted by both readers', async () => {
    const d = contextDir('ctx1024', 1024);
    expect(readIso(isoOf(d)).size).toBe(1024);
    expect((await readContextDir(d)).size).toBe(1024);
  });
});

describe('depth and size: the same limits in both readers', () => {
  it(`a file ${LIMITS.depth + 1} directories down is refused by both`, async () => {
    const dir = join(tmp.dir, 'deep');
    const parts = Array.from({ length: LIMITS.depth + 1 }, (_, i) => `d${i}`);
    mkdirSync(join(dir, ...parts), { recursive: true });
    writeFileSync(join(dir, ...parts, 'f'), 'x');
    writeFileSync(join(dir, 'post-install'), 'echo\n');
    expect(() => readIso(isoOf(dir))).toThrow(/deeper than 16 levels \(limit maxDepth\)/);
    expect(await dirProblems(dir)).toEqual([`${parts.join('/')}: nested deeper than 16 directories`]);
  });

  it('a text file over its cap: both readers hand it on, parseContext refuses it with the same reason', async () => {
    const dir = join(tmp.dir, 'big');
    mkdirSync(join(dir, 'common'), { recursive: true });
    writeFileSync(join(dir, 'common/network'), Buffer.alloc(LIMITS.textFileBytes + 1, 0x23));
    const reason = limitWhy.fileBytes(LIMITS.textFileBytes + 1, LIMITS.textFileBytes);
    expect(await dirProblems(dir)).toEqual([`common/network: ${reason}`]);
    expect(() => parseContext(readIso(isoOf(dir)))).toThrow(`common/network: ${reason}`);
  });
});
