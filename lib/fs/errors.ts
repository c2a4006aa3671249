import type { Stats } from 'node:fs';

/** What is at a path, as lstat tells it. */
export type FileKind = 'absent' | 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'block' | 'char';

export function kindOf(st: Stats | undefined): FileKind {
  if (!st) return 'absent';
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isBlockDevice()) return 'block';
  return 'char';
}

const NAMES: Record<FileKind, string> = {
  absent: 'missing entry', file: 'regular file', dir: 'directory', symlink: 'symbolic link', fifo: 'FIFO',
  socket: 'socket', block: 'block device', char: 'character device',
};

export function describeKind(kind: FileKind): string {
  return NAMES[kind];
}

/**
 * A filesystem refusal or failure, always naming the real path (the target, never a temp file).
 * `code` is the errno name, or ENOTREG for "something other than a regular file is there".
 */
export class FsError extends Error {
  override name = 'FsError';
  readonly code: string | undefined;
  readonly path: string | undefined;
  readonly kind: FileKind | undefined;
  constructor(message: string, opts: { code?: string; path?: string; kind?: FileKind; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.code = opts.code;
    this.path = opts.path;
    this.kind = opts.kind;
  }
}
