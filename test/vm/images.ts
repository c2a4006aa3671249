import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';

/**
 * Guest disks for the VM tests. The slow part (debootstrap + kernel + network stack) is cached by
 * scripts/vm/build-image.sh; the agent goes into a per-run copy so agent changes never invalidate
 * that cache. Each scenario then boots a qcow2 overlay of the per-run disk.
 */

export type Variant = 'ifupdown' | 'networkd' | 'networkmanager';

export const REPO = join(import.meta.dirname, '..', '..');
export const AGENT_BIN = join(REPO, 'dist', 'contextualization');
export const CONTEXTGEN_BIN = join(REPO, 'dist', 'contextgen');

export interface RunDisk {
  variant: Variant;
  /** Raw ext4 image with the agent installed: the backing file of every scenario overlay. */
  image: string;
  kernel: string;
  initrd: string;
  /** How long build-image.sh took (near zero when cached) and the per-run copy took. */
  imageBuildMs: number;
  diskMs: number;
}

/** Runs (or reuses) the cached image build and returns the variant's rootfs directory. */
export async function cachedRootfs(variant: Variant): Promise<string> {
  const script = join(REPO, 'scripts', 'vm', 'build-image.sh');
  const r = await execa('bash', [script, variant], { stderr: 'inherit', timeout: 20 * 60_000 });
  const rootfs = r.stdout.trim().split('\n').at(-1)!;
  await pruneStaleCaches(dirname(rootfs));
  return rootfs;
}

/** Image caches of older build recipes pile up (about 1 GB each): drop those unused for a week. */
const STALE_CACHE_MS = 7 * 24 * 3600_000;
async function pruneStaleCaches(keyDir: string): Promise<void> {
  const now = new Date();
  utimesSync(keyDir, now, now);
  const root = dirname(keyDir);
  for (const name of readdirSync(root)) {
    const dir = join(root, name);
    if (dir === keyDir || !/^[0-9a-f]{16}$/.test(name)) continue;
    // --one-file-system: a build killed mid-way may have left /dev bind-mounted inside its tree.
    if (now.getTime() - statSync(dir).mtimeMs > STALE_CACHE_MS) await execa('rm', ['-rf', '--one-file-system', dir], { reject: false });
  }
}

/**
 * Copies the cached rootfs, installs the agent into it with `contextualization install --root`
 * (the same command an image builder runs), and packs it into an ext4 image with `mkfs.ext4 -d`
 * (no mount needed). The kernel and initrd are taken from the copy's /boot.
 */
export async function makeRunDisk(
  variant: Variant,
  workDir: string,
  opts: { trustKeys?: string[]; name?: string; extraFiles?: GuestFile[]; /** install's --init (default: detected, i.e. systemd) */ init?: 'rc.local' } = {},
): Promise<RunDisk> {
  const t0 = performance.now();
  const rootfs = await cachedRootfs(variant);
  const t1 = performance.now();

  mkdirSync(workDir, { recursive: true });
  const stage = join(workDir, `rootfs-${variant}`);
  rmSync(stage, { recursive: true, force: true });
  await execa('cp', ['-a', '--reflink=auto', rootfs, stage]);
  try {
    const initFlag = opts.init ? ['--init', opts.init] : [];
    await execa(AGENT_BIN, ['install', '--root', stage, ...initFlag, ...(opts.trustKeys ?? []).flatMap((k) => ['--trust-key', k])], { all: true });
    installReportUnit(stage);
    for (const f of opts.extraFiles ?? []) installGuestFile(stage, f);
    const boot = join(stage, 'boot');
    const files = readdirSync(boot);
    const pick = (prefix: string): string => {
      const f = files.filter((n) => n.startsWith(prefix)).sort().at(-1);
      if (!f) throw new Error(`no ${prefix}* in ${boot}`);
      const dest = join(workDir, `${opts.name ?? variant}-${prefix.replace(/-$/, '')}`);
      copyFileSync(join(boot, f), dest);
      return dest;
    };
    const kernel = pick('vmlinuz-');
    const initrd = pick('initrd.img-');

    const { stdout } = await execa('du', ['-sm', stage]);
    const sizeMb = Number(stdout.split(/\s/)[0]) + 256; // headroom for logs, state and a post-install
    const image = join(workDir, `${opts.name ?? variant}.ext4`);
    rmSync(image, { force: true });
    await execa('mkfs.ext4', ['-q', '-F', '-L', 'root', '-d', stage, image, `${sizeMb}M`]);
    return {
      variant,
      image,
      kernel,
      initrd,
      imageBuildMs: Math.round(t1 - t0),
      diskMs: Math.round(performance.now() - t1),
    };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/**
 * The test harness's own unit (not part of the agent): prints the report on ttyS0 and powers off.
 * Installed per run, like the agent, so editing it does not rebuild the cached image.
 */
function installReportUnit(root: string): void {
  installGuestUnit(root, join(REPO, 'scripts', 'vm', 'guest'), 'vm-report');
}

/** Copies `<dir>/<name>` to /usr/local/sbin and `<dir>/<name>.service` into the root, enabled for multi-user. */
export function installGuestUnit(root: string, dir: string, name: string): void {
  const script = join(root, 'usr', 'local', 'sbin', name);
  copyFileSync(join(dir, name), script);
  chmodSync(script, 0o755);
  const units = join(root, 'etc', 'systemd', 'system');
  copyFileSync(join(dir, `${name}.service`), join(units, `${name}.service`));
  mkdirSync(join(units, 'multi-user.target.wants'), { recursive: true });
  rmSync(join(units, 'multi-user.target.wants', `${name}.service`), { force: true });
  symlinkSync(`/etc/systemd/system/${name}.service`, join(units, 'multi-user.target.wants', `${name}.service`));
}

/** A file a test adds to its own run disk (an extra report unit, say): content, or a symlink. */
export type GuestFile = { path: string; content: string; mode: number } | { path: string; linkTo: string };

function installGuestFile(root: string, f: GuestFile): void {
  const dest = join(root, f.path);
  mkdirSync(dirname(dest), { recursive: true });
  rmSync(dest, { force: true });
  if ('linkTo' in f) symlinkSync(f.linkTo, dest);
  else {
    writeFileSync(dest, f.content);
    chmodSync(dest, f.mode);
  }
}

/** A copy-on-write overlay of the run disk: one per guest instance, reusable for a second boot. */
export async function makeOverlay(disk: RunDisk, path: string, size?: string): Promise<string> {
  rmSync(path, { force: true });
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', disk.image, path, ...(size ? [size] : [])]);
  return path;
}
