/**
 * Reading straight from a block device (as the agent reads /dev/sr0): a read-only loop device over an
 * image we wrote. Needs root and loop devices; where losetup cannot attach, the case is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openIso, readAllFiles, readVolumeId, writeIso } from '../../lib/iso9660/index.js';
import { awkwardFiles } from './fixtures.js';
import { tempDir } from './helpers.js';

function attach(file: string): string | undefined {
  try {
    return execFileSync('losetup', ['--find', '--show', '--read-only', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

describe('block device source', () => {
  const tmp = tempDir();
  const iso = join(tmp.dir, 'dev.iso');
  const files = awkwardFiles();
  writeFileSync(iso, writeIso(files, { volumeId: 'cidata', mtime: new Date('2024-01-01Z') }));
  const dev = attach(iso);

  it.skipIf(!dev)('lists and reads every file from a read-only loop device (size from sysfs)', () => {
    try {
      expect(readVolumeId(dev!)).toBe('cidata');
      const img = openIso(dev!);
      try {
        expect(img.naming).toBe('rockridge');
        const got = readAllFiles(img);
        for (const f of files) expect(got.get(f.path)?.equals(f.data), f.path).toBe(true);
      } finally {
        img.close();
      }
    } finally {
      execFileSync('losetup', ['--detach', dev!]);
    }
  });
  afterAll(() => tmp.cleanup());
});
