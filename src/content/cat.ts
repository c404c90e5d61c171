import type { CID } from 'multiformats/cid'
import type { SpanPool } from '../blockstore/span-pool.ts'
import { InvalidInputError } from '../errors.ts'
import { type BlockSource, blocksGetter, type GetBlocks, type ReadOptions } from './blocks.ts'
import { type ContentNode, decodeNode } from './node.ts'
import { resolve } from './resolve.ts'

export interface CatOptions extends ReadOptions {
  /** First byte to read. */
  offset?: number
  /** Most bytes to read. */
  length?: number
  /**
   * Read local blocks into these reused spans. The caller then owns every chunk yielded: it calls
   * `spans.release(chunk)` once done with it (a socket has written it), and until then the chunk's
   * bytes stay as they are. A chunk never released only keeps its span from being reused.
   */
  spans?: SpanPool
}

/**
 * A file's children are read in batches of up to BATCH blocks, at most AHEAD batches ahead of the
 * consumer at each level of the DAG. Reading is pulled by the consumer: a stalled reader stops the
 * walk, so memory is bounded by the window (a few MiB per level), never by the file's size.
 * (ipfs-unixfs-exporter's file reader pushes into an unbounded queue instead.)
 */
const BATCH = 16
const AHEAD = 2
/** Deeper than any DAG an importer builds (a balanced 1 PiB file is 5 levels). */
const MAX_DEPTH = 64

/** Streams a file's bytes (`ipfs cat`), optionally a range. */
export async function* cat(
  store: BlockSource,
  path: string,
  opts: CatOptions = {},
): AsyncGenerator<Uint8Array> {
  const offset = checkWhole('offset', opts.offset) ?? 0
  const length = checkWhole('length', opts.length)
  const entry = await resolve(store, path, opts)
  if (entry.kind === 'directory' || entry.kind === 'hamt')
    throw new InvalidInputError(`${path} is a directory: use ls or get`)
  if (entry.kind === 'object')
    throw new InvalidInputError(`${path} is not a UnixFS file (codec 0x${entry.cid.code.toString(16)})`)
  if (length === 0) return
  yield* readFile(store, entry, { ...opts, offset, length })
}

/**
 * The bytes of a decoded file node, in order, from `offset` for `length` bytes. Children wholly
 * outside the range are never read; every child's size is checked against its parent's record.
 */
export async function* readFile(
  store: BlockSource,
  file: ContentNode,
  opts: CatOptions = {},
): AsyncGenerator<Uint8Array> {
  const lo = opts.offset ?? 0
  const hi = opts.length == null ? Number.POSITIVE_INFINITY : lo + opts.length
  if (hi <= lo) return
  yield* emit(blocksGetter(store, opts, opts.spans), file, 0, lo, hi, 0, opts.spans)
}

/**
 * The bytes of `n` within [lo, hi). With `spans`, a child block read into a pooled span is either
 * handed to the consumer (a leaf whose one chunk is a view of it) or released here once nothing
 * refers to it (a leaf with nothing in range; an inner node after its subtree, whose links are
 * views of its bytes); an inner node's own data is copied, as its span is released before the
 * consumer is done with it.
 */
async function* emit(
  getMany: GetBlocks,
  n: ContentNode,
  start: number,
  lo: number,
  hi: number,
  depth: number,
  spans?: SpanPool,
): AsyncGenerator<Uint8Array> {
  if (n.kind === 'raw') {
    yield* slice(n.data, start, lo, hi)
    return
  }
  if (n.kind !== 'file' && n.kind !== 'symlink') {
    throw new InvalidInputError(`block ${n.cid} inside a file is not file data (${n.kind})`)
  }
  if (depth > MAX_DEPTH)
    throw new InvalidInputError(`file DAG under ${n.cid} is deeper than ${MAX_DEPTH} levels`)
  const { node, unixfs } = n
  const data = unixfs.data ?? new Uint8Array(0)
  if (data.length > 0) {
    for (const chunk of slice(data, start, lo, hi))
      yield spans != null && node.Links.length > 0 ? chunk.slice() : chunk
  }
  const sizes = unixfs.blockSizes
  if (node.Links.length !== sizes.length) {
    throw new InvalidInputError(
      `file node ${n.cid} is malformed: ${node.Links.length} links but ${sizes.length} block sizes`,
    )
  }
  // the children that overlap [lo, hi), each with the file offset it starts at
  const wanted: { cid: CID; start: number; size: number }[] = []
  let pos = start + data.length
  for (let i = 0; i < sizes.length && pos < hi; i++) {
    const size = Number(sizes[i]!)
    if (pos + size > lo) wanted.push({ cid: node.Links[i]!.Hash, start: pos, size })
    pos += size
  }
  const batches: Promise<Uint8Array[]>[] = []
  let next = 0
  const fill = () => {
    while (batches.length < AHEAD && next < wanted.length) {
      const cids = wanted.slice(next, next + BATCH).map((c) => c.cid)
      next += cids.length
      const batch = getMany(cids)
      batch.catch(() => {}) // its failure surfaces when its turn comes
      batches.push(batch)
    }
  }
  let i = 0
  while (i < wanted.length) {
    fill()
    for (const bytes of await batches.shift()!) {
      const child = wanted[i++]!
      const decoded = decodeNode(child.cid, bytes)
      if (decoded.kind !== 'raw' && decoded.kind !== 'file') {
        throw new InvalidInputError(
          `block ${child.cid} inside file ${n.cid} is not file data (${decoded.kind})`,
        )
      }
      const actual = decoded.kind === 'raw' ? decoded.data.length : Number(decoded.unixfs.fileSize())
      if (actual !== child.size) {
        throw new InvalidInputError(
          `file node ${n.cid} is malformed: child ${child.cid} holds ${actual} bytes, the parent says ${child.size}`,
        )
      }
      const leaf =
        decoded.kind === 'raw'
          ? decoded.data
          : decoded.node.Links.length === 0 && decoded.unixfs.blockSizes.length === 0
            ? (decoded.unixfs.data ?? new Uint8Array(0))
            : undefined
      if (leaf == null) {
        yield* emit(getMany, decoded, child.start, lo, hi, depth + 1, spans)
        spans?.release(bytes)
        continue
      }
      const [chunk] = slice(leaf, child.start, lo, hi)
      // the consumer releases a chunk cut from this block; anything else frees the block now
      if (chunk == null || chunk.buffer !== bytes.buffer) spans?.release(bytes)
      if (chunk != null) yield chunk
    }
  }
}

function* slice(data: Uint8Array, start: number, lo: number, hi: number): Generator<Uint8Array> {
  const from = Math.max(0, lo - start)
  const to = Math.min(data.length, hi - start)
  if (to > from) yield from === 0 && to === data.length ? data : data.subarray(from, to)
}

function checkWhole(name: string, value: number | undefined): number | undefined {
  if (value != null && (!Number.isSafeInteger(value) || value < 0)) {
    throw new InvalidInputError(`invalid ${name} ${value}: must be a whole number >= 0`)
  }
  return value
}
