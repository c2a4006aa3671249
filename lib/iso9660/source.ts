/**
 * Random-access byte sources for the reader: an in-memory Buffer, or a file / block device read with
 * positional reads on a read-only descriptor (never mounted). Every read is bounds-checked.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { IsoError } from './errors.js';

export interface ByteSource {
  /** Size in bytes, or undefined when it cannot be known (then reads past the end fail as short reads). */
  readonly size: number | undefined;
  readonly name: string;
  /** Exactly `len` bytes at `pos` (a copy for files, a view for buffers), or IsoError. */
  read(pos: number, len: number): Buffer;
  close(): void;
}

class BufferSource implements ByteSource {
  readonly size: number;
  readonly name = '<buffer>';
  constructor(private readonly buf: Buffer) {
    this.size = buf.length;
  }
  read(pos: number, len: number): Buffer {
    if (pos < 0 || len < 0 || pos + len > this.buf.length) {
      throw new IsoError(`ISO image ${this.name}: read of ${len} bytes at offset ${pos} is past the end (${this.buf.length} bytes)`);
    }
    return this.buf.subarray(pos, pos + len);
  }
  close(): void {}
}

/** Block devices report size 0 in fstat; their size is in sysfs (512-byte units). */
function blockDeviceSize(rdev: number): number | undefined {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  try {
    const sectors = Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, 'latin1').trim());
    return Number.isSafeInteger(sectors) && sectors > 0 ? sectors * 512 : undefined;
  } catch {
    return undefined;
  }
}

/** Linux errno 123: an empty CD-ROM tray. libuv has no name for it and reports "Unknown system error -123". */
const ENOMEDIUM = -123;

function openErrorText(e: NodeJS.ErrnoException): string {
  if (e.errno === ENOMEDIUM) return 'no medium in the drive';
  return e.code ?? String(e);
}

class FileSource implements ByteSource {
  readonly size: number | undefined;
  private fd: number | undefined;
  constructor(readonly name: string) {
    try {
      this.fd = openSync(name, 'r');
    } catch (e) {
      throw new IsoError(`ISO image ${JSON.stringify(name)}: cannot open (${openErrorText(e as NodeJS.ErrnoException)})`, { cause: e });
    }
    const st = fstatSync(this.fd);
    if (st.isBlockDevice()) this.size = blockDeviceSize(st.rdev);
    else if (st.isFile()) this.size = st.size;
    else {
      this.close();
      throw new IsoError(`ISO image ${JSON.stringify(name)}: not a regular file or block device`);
    }
  }
  read(pos: number, len: number): Buffer {
    if (this.fd === undefined) throw new IsoError(`ISO image ${JSON.stringify(this.name)}: already closed`);
    if (pos < 0 || len < 0 || (this.size !== undefined && pos + len > this.size)) {
      throw new IsoError(`ISO image ${JSON.stringify(this.name)}: read of ${len} bytes at offset ${pos} is past the end (${this.size} bytes)`);
    }
    const out = Buffer.allocUnsafe(len);
    let done = 0;
    while (done < len) {
      let n: number;
      try {
        n = readSync(this.fd, out, done, len - done, pos + done);
      } catch (e) {
        throw new IsoError(`ISO image ${JSON.stringify(this.name)}: read error at offset ${pos + done} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
      }
      if (n === 0) throw new IsoError(`ISO image ${JSON.stringify(this.name)}: short read at offset ${pos + done} (image truncated?)`);
      done += n;
    }
    return out;
  }
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

export function openSource(source: string | Buffer): ByteSource {
  if (Buffer.isBuffer(source)) return new BufferSource(source);
  if (typeof source === 'string') return new FileSource(source);
  throw new IsoError('ISO image: source must be a file path or a Buffer');
}
