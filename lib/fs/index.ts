export { RootFs, components } from './root.js';
export { replaceFileAtomic, fsyncDir, type ReplaceOptions } from './atomic.js';
export { FsError, describeKind, kindOf, type FileKind } from './errors.js';
export { randomSuffix } from './temp.js';
