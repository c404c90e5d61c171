import type { CID } from 'multiformats/cid'
import type { CidVersion, DagSession, Node } from './dag.ts'
import type { EntryType } from './tree.ts'

/** One entry of `vfs ls`. */
export interface VfsEntry {
  name: string
  type: EntryType
  /** File size in bytes (0 for a directory). */
  size: number
  cid: CID
}

/** `vfs stat`, as `ipfs files stat`. */
export interface VfsStat {
  path: string
  cid: CID
  type: EntryType
  /** File size in bytes (0 for a directory). */
  size: number
  /** The node plus every block below it, from the links' recorded sizes (Kubo's CumulativeSize). */
  cumulativeSize: number
  /** Links of the node itself (Kubo's `Blocks` / ChildBlocks). */
  blocks: number
}

/** What a mutation works on: the blocks session and the root it started from. */
export interface MutationContext {
  session: DagSession
  root: CID
}

/** What a mutation returns: the new root and its own result. */
export interface MutationOutcome<T> {
  root: Node
  result: T
}

export interface WriteOptions {
  /** Byte offset to start writing at (past the end pads with zeros). */
  offset?: number
  /** Create the file if it does not exist (`--create`). */
  create?: boolean
  /** Truncate the file to zero bytes first (`--truncate`). */
  truncate?: boolean
  /** Create missing parent directories (`--parents`). */
  parents?: boolean
  /** Write at most this many bytes of the input (`--count`). */
  count?: number
  /** Raw leaves for new chunks; default: the file's CID version decides (v1 raw, v0 dag-pb). */
  rawLeaves?: boolean
  /** CID version of a newly created file and of new parent directories. */
  cidVersion?: CidVersion
  /** Most zero bytes an offset past the end may add (default: no limit; the server passes its upload limit). */
  maxPadding?: number
}

export interface MkdirOptions {
  parents?: boolean
  cidVersion?: CidVersion
}

export interface RmOptions {
  /** Remove directories and what is inside them. */
  recursive?: boolean
  /** No error when the path does not exist; directories go without `recursive`. */
  force?: boolean
}

export interface CpOptions {
  /** Create missing parent directories of the destination. */
  parents?: boolean
  /** Replace an existing destination. */
  force?: boolean
  cidVersion?: CidVersion
}

export interface ReadOptions {
  offset?: number
  /** Most bytes to read (Kubo's `--count`). */
  length?: number
}
