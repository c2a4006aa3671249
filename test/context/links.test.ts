/**
 * Issue 10 row 7: one rule for links in both read paths. The in-process ISO reader (readAllFiles)
 * used to drop Rock Ridge symlinks silently while the mount path (readContextDir on the mounted
 * tree) followed them: one CD, two contexts. Now a symlink, hard link, device node or FIFO anywhere
 * in a context is refused by both with one line naming the path (and a link's target).
 *
 * Real images: genisoimage -R and xorriso -as mkisofs -R. The kernel iso9660 driver is not
 * available in every test machine, so the mounted view is reproduced with xorriso -osirrox, which
 * extracts the Rock Ridge tree (symlinks as symlinks) the way the driver presents it.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContextError, formatProblem, readContextDir } from '../../lib/context/index.js';
import { IsoError, openIso, readAllFiles } from '../../lib/iso9660/index.js';
import { runInspect } from '../../host-tools/src/commands/inspect.js';
import type { Io } from '../../host-tools/src/io.js';
import { run, tempDir } from '../iso9660/helpers.js';

const tmp = tempDir('ctx-links-');
afterAll(() => tmp.cleanup());

const LINE = 'common/network: a symbolic link (-> ../net.real); a context holds regular files only';

/** The reproduction: a Snooze context whose common/network is a link to a file beside it. */
function linkedTree(name: string): string {
  const src = join(tmp.dir, name);
  mkdirSync(join(src, 'common'), { recursive: true });
  writeFileSync(join(src, 'net.real'), 'NETWORK=192.168.122.0\nNETMASK=255.255.255.0\n');
  symlinkSync('../net.real', join(src, 'common/network'));
  writeFileSync(join(src, 'post-install'), '#!/bin/bash\necho hi\n');
  return src;
}

const MAKERS = {
  'genisoimage -R': (src: string, iso: string) => run('genisoimage', ['-quiet', '-R', '-V', 'CONTEXT', '-o', iso, src]),
  'xorriso -as mkisofs -R': (src: string, iso: string) => run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-V', 'CONTEXT', '-o', iso, src]),
};

function readerError(iso: string): string {
  const img = openIso(iso);
  try {
    readAllFiles(img);
  } catch (e) {
    if (e instanceof IsoError) return e.message;
    throw e;
  } finally {
    img.close();
  }
  throw new Error(`readAllFiles accepted ${iso}`);
}

async function dirErrors(dir: string): Promise<string[]> {
  try {
    await readContextDir(dir);
  } catch (e) {
    if (e instanceof ContextError) return e.problems.map(formatProblem);
    throw e;
  }
  throw new Error(`readContextDir accepted ${dir}`);
}

describe.each(Object.entries(MAKERS))('%s ISO with common/network -> ../net.real', (name, make) => {
  const src = linkedTree(name.replace(/\W+/g, '-'));
  const iso = `${src}.iso`;
  make(src, iso);

  it('the ISO really holds a Rock Ridge symlink (what the old reader dropped)', () => {
    const img = openIso(iso);
    expect(img.entries().find((e) => e.path === 'common/network')).toMatchObject({ type: 'symlink', target: '../net.real' });
    img.close();
  });

  it('the in-process reader refuses it, naming image, path and target once', () => {
    expect(readerError(iso)).toBe(`ISO image ${JSON.stringify(iso)}: ${LINE}`);
  });

  it('the mount path (readContextDir on the mounted tree) refuses it with the same line', async () => {
    const mounted = join(tmp.dir, `${name.replace(/\W+/g, '-')}-mounted`);
    run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', mounted]);
    expect(readlinkSync(join(mounted, 'common/network'))).toBe('../net.real');
    expect(await dirErrors(mounted)).toEqual([LINE]);
  });

  it('contextgen reading the source directory refuses it the same way', async () => {
    expect(await dirErrors(src)).toEqual([LINE]);
  });

  it('contextgen inspect shows the refusal, not a context read without the link', async () => {
    const r = await runInspect(iso, { cwd: '/' } as Io);
    expect(r.context).toBeUndefined();
    expect(r.problems.map(formatProblem).join('\n')).toContain(LINE);
  });
});

describe('hard links and FIFOs: both readers refuse them the same way', () => {
  const src = join(tmp.dir, 'special');
  mkdirSync(join(src, 'common'), { recursive: true });
  writeFileSync(join(src, 'common/network'), 'GATEWAY=\n');
  writeFileSync(join(src, 'post-install'), 'echo\n');
  linkSync(join(src, 'post-install'), join(src, 'post-install.bak'));
  execFileSync('mkfifo', [join(src, 'pipe')]);
  const iso = `${src}.iso`;
  MAKERS['genisoimage -R'](src, iso);

  it('the directory reader lists each', async () => {
    expect(await dirErrors(src)).toEqual([
      'pipe: a FIFO; a context holds regular files only',
      'post-install: a hard link (one file with 2 names); a context holds regular files only',
      'post-install.bak: a hard link (one file with 2 names); a context holds regular files only',
    ]);
  });

  it('the ISO reader refuses the first (Rock Ridge PX link count and file type)', () => {
    const img = openIso(iso);
    expect(img.entries().filter((e) => e.type !== 'dir').map((e) => [e.path, e.type, e.special ?? e.links ?? null])).toEqual([
      ['common/network', 'file', null], ['pipe', 'special', 'fifo'], ['post-install', 'file', 2], ['post-install.bak', 'file', 2],
    ]);
    expect(() => img.readFile('pipe')).toThrow(/is a fifo, not a file/);
    img.close();
    expect(readerError(iso)).toBe(`ISO image ${JSON.stringify(iso)}: pipe: a FIFO; a context holds regular files only`);
  });
});
