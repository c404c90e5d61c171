// The read verbs, one per file (as Helia's unixfs commands): this module gathers them for callers.
export { type BlockSource, type ReadOptions, readBlock } from './blocks.ts'
export { type CatOptions, cat, readFile } from './cat.ts'
export { get } from './get.ts'
export { walkBlocks } from './links.ts'
export { describe, type LsEntry, ls } from './ls.ts'
export { type Resolved, resolve } from './resolve.ts'
export { type StatResult, stat } from './stat.ts'
