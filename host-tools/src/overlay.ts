/**
 * qcow2 copy-on-write overlays through the real qemu-img (argv only, never a shell).
 * The overlay is created under a temp name in the target directory and put in place without
 * clobbering, so a failed or interrupted run leaves nothing behind.
 */
import { execa } from 'execa';
import { resolve, dirname } from 'node:path';
import { access, unlink } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { ContextError, type Problem } from '../../lib/context/errors.js';
import { ExternalError } from './errors.js';
import { exists, outputProblem, tempNameFor, WriteTxn } from './io.js';
import { checkPathText } from '../../lib/context/rules.js';
import { DISK_FORMATS, type DiskFormat } from './domain/spec.js';

export interface ImageInfo {
  format: string;
  virtualSize: number;
  backingFilename?: string;
}

export async function qemuImgInfo(path: string): Promise<ImageInfo> {
  let stdout: string;
  try {
    // -U: read even if a running VM holds the image lock (we only read the header).
    ({ stdout } = await execa('qemu-img', ['info', '-U', '--output=json', path]));
  } catch (e) {
    throw new ExternalError(`qemu-img info ${path}: ${toolMessage(e)}`, { cause: e });
  }
  const j = JSON.parse(stdout) as { format: string; 'virtual-size': number; 'backing-filename'?: string };
  return { format: j.format, virtualSize: j['virtual-size'], backingFilename: j['backing-filename'] };
}

/**
 * Whether a running QEMU holds the image's write lock: qemu-img info without -U asks for a shared
 * lock and fails with "Failed to get shared \"write\" lock" while a guest has the image open.
 */
export async function imageInUse(path: string): Promise<boolean> {
  try {
    await execa('qemu-img', ['info', '--output=json', path]);
    return false;
  } catch (e) {
    return /Failed to get .* lock/i.test(String((e as { stderr?: string }).stderr ?? ''));
  }
}

/** "20G", "512M", "1073741824" -> bytes (qemu-img's binary suffixes). */
export function parseSize(s: string): number | undefined {
  const m = /^([0-9]+)([KMGT]?)$/i.exec(s.trim());
  if (!m) return undefined;
  const mult = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Number(m[1]) * mult;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface OverlayRequest {
  backing: string;
  backingFormat?: string;
  output: string;
  size?: string;
  force: boolean;
  /** Replace an existing image (--recreate-disks): --force alone never replaces a disk. */
  recreate?: boolean;
}

export interface OverlayPlan {
  backing: string; // absolute: qemu-img would resolve a relative one against the overlay's directory
  backingFormat: DiskFormat;
  output: string;
  sizeBytes?: number;
  /** Whether an existing file at `output` is replaced (only with --recreate-disks). */
  force: boolean;
}

/** Checks everything about an overlay request (reads the backing image header), writes nothing. */
export async function planOverlay(req: OverlayRequest, cwd: string, file = '<command line>'): Promise<OverlayPlan> {
  const problems: Problem[] = [];
  const backing = resolve(cwd, req.backing);
  const output = resolve(cwd, req.output);
  // The backing path is stored in the overlay's header: the catalog's rule for a path written into a config.
  const backingText = checkPathText(req.backing);
  if (!backingText.ok) problems.push({ file, key: '--backing', value: req.backing, why: backingText.why });
  if (req.backingFormat !== undefined && !(DISK_FORMATS as readonly string[]).includes(req.backingFormat)) {
    problems.push({ file, key: '--backing-format', value: req.backingFormat, why: `must be one of ${DISK_FORMATS.join(', ')}` });
  }
  let sizeBytes: number | undefined;
  if (req.size !== undefined) {
    sizeBytes = parseSize(req.size);
    if (sizeBytes === undefined) problems.push({ file, key: '--size', value: req.size, why: 'size must be a number with an optional K, M, G or T suffix' });
  }
  if (backing === output) problems.push({ file, key: '-o', value: req.output, why: 'overlay and backing image are the same file' });
  const outWhy = await outputProblem(output, true);
  if (outWhy) problems.push({ file: output, why: outWhy });
  else if (await exists(output)) {
    // A disk holds a guest's data: --force (meant for regenerated files) never replaces one.
    if (!req.recreate) problems.push({ file: output, why: `disk image exists; it is never replaced${req.force ? ' by --force' : ''} (use --recreate-disks to discard its data)` });
    else if (await imageInUse(output)) problems.push({ file: output, why: 'disk image is in use (a QEMU process holds its lock); shut the guest down first' });
  }
  try {
    await access(dirname(output), fsc.W_OK);
  } catch {
    problems.push({ file: dirname(output), why: 'output directory does not exist or is not writable' });
  }
  if (!(await exists(backing))) problems.push({ file, key: '--backing', value: req.backing, why: 'backing image does not exist' });
  if (problems.length) throw new ContextError(problems);

  const info = await qemuImgInfo(backing);
  let fmt = req.backingFormat ?? info.format;
  if (!(DISK_FORMATS as readonly string[]).includes(fmt)) {
    throw new ContextError([{ file, key: '--backing', value: req.backing, why: `backing image format ${fmt} is not qcow2 or raw` }]);
  }
  if (req.backingFormat !== undefined && req.backingFormat !== info.format) {
    // A wrong -F makes the guest read garbage (raw over qcow2) or leaks host data; refuse it.
    throw new ContextError([{ file, key: '--backing-format', value: req.backingFormat, why: `backing image is ${info.format}` }]);
  }
  if (sizeBytes !== undefined && sizeBytes < info.virtualSize) {
    throw new ContextError([{ file, key: '--size', value: req.size, why: `smaller than the backing image (${info.virtualSize} bytes)` }]);
  }
  return { backing, backingFormat: fmt as DiskFormat, output, sizeBytes, force: !!req.recreate };
}

/** Runs qemu-img create into a temp name beside the output and hands it to the transaction. */
export async function createOverlay(plan: OverlayPlan, txn: WriteTxn): Promise<void> {
  const tmp = tempNameFor(plan.output);
  const args = ['create', '-q', '-f', 'qcow2', '-b', plan.backing, '-F', plan.backingFormat, tmp];
  if (plan.sizeBytes !== undefined) args.push(String(plan.sizeBytes));
  try {
    await execa('qemu-img', args);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    // qemu-img names the temp file it was given; the operator knows the output path.
    throw new ExternalError(`qemu-img create ${plan.output}: ${toolMessage(e).replaceAll(tmp, plan.output)}`, { cause: e });
  }
  await txn.adoptTemp(tmp, plan.output, 0o644, plan.force);
}

export function toolMessage(e: unknown): string {
  const err = e as { code?: string; stderr?: string; shortMessage?: string; message?: string };
  if (err.code === 'ENOENT') return 'command not found (is it installed?)';
  const text = (err.stderr || err.shortMessage || err.message || String(e)).trim();
  return text.split('\n').filter(Boolean).pop() ?? text;
}
