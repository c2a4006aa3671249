/**
 * The one error type of the ISO 9660 codec: bad writer input (label, path, mode, symlink) and every
 * malformed or hostile image the reader meets. Messages are single lines that name the thing at fault.
 */
export class IsoError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IsoError';
  }
}
