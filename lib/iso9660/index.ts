/** ISO 9660 (ECMA-119 + Rock Ridge + Joliet) codec: writer for context CDs, bounded reader for untrusted images. */
export { IsoError } from './errors.js';
export { writeIso, collectDirectory, DEFAULT_ISO_VOLUME_ID } from './writer.js';
export type { IsoInputFile, IsoInputSymlink, WriteIsoOptions } from './writer.js';
export { openIso, readVolumeId, readAllFiles, DEFAULT_ISO_LIMITS } from './reader.js';
export type { IsoEntry, IsoImage, IsoLimits } from './reader.js';
