export { RootFs, components } from './root.js';
export { replaceFileAtomic, writeBatchAtomic, fsyncDir, type BatchEntry, type ReplaceOptions } from './atomic.js';
export { replaceFileAtomicAsync, writeTempFile, placeFile, syncFile, fsyncDirAsync } from './atomic-async.js';
export { FsError, describeKind, kindOf, type FileKind } from './errors.js';
export { randomSuffix, tempPathFor } from './temp.js';
