import { CarWriter } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { blockKey, IDENTITY } from '../../blockstore/hashing.ts'
import { blocksGetter, readBlock } from '../../content/blocks.ts'
import { links, readDag } from '../../content/links.ts'
import { IpfsKitError } from '../../errors.ts'
import type { Resolved } from './resolve.ts'

export type DagScope = 'all' | 'entity' | 'block'

/** An inclusive byte range; negative numbers count from the end, `to` undefined means end of file. */
export interface EntityBytes {
  from: number
  to: number | undefined
}

export interface CarRequest {
  scope: DagScope
  entityBytes?: EntityBytes
  dups: boolean
}

/** `dag-scope` and `entity-bytes` from the query (entity-bytes implies dag-scope=entity). */
export function carRequest(query: Record<string, string | undefined>, dups: boolean): CarRequest {
  const scope = query['dag-scope'] ?? 'all'
  if (scope !== 'all' && scope !== 'entity' && scope !== 'block') {
    throw new IpfsKitError('ERR_INVALID_INPUT', `invalid dag-scope "${scope}": use all, entity or block`)
  }
  const eb = query['entity-bytes']
  if (eb == null) return { scope, dups }
  const m = /^(-?\d+):(-?\d+|\*)$/.exec(eb)
  if (m == null) {
    throw new IpfsKitError(
      'ERR_INVALID_INPUT',
      `invalid entity-bytes "${eb}": use from:to, e.g. 0:1023 or -1024:*`,
    )
  }
  const from = Number(m[1])
  const to = m[2] === '*' ? undefined : Number(m[2])
  if (from >= 0 && to != null && to >= 0 && to < from) {
    throw new IpfsKitError('ERR_INVALID_INPUT', `invalid entity-bytes "${eb}": the end is before the start`)
  }
  return { scope: 'entity', entityBytes: { from, to }, dups }
}

/**
 * A CARv1 stream: the blocks that prove the path, then the requested part of the DAG at its end,
 * depth-first, each block once. A block missing mid-way ends the stream (the client sees a short CAR).
 */
export function carStream(store: ReadableStorage, resolved: Resolved, req: CarRequest, signal: AbortSignal) {
  const root = resolved.entry.cid
  const { writer, out } = CarWriter.create([root])
  const seen = new Set<string>()
  const put = async (cid: CID, bytes: Uint8Array) => {
    // identity CIDs carry their bytes inline: they are never written as blocks
    if (cid.multihash.code === IDENTITY) return
    const key = blockKey(cid)
    if (seen.has(key) && !req.dups) return
    seen.add(key)
    await writer.put({ cid, bytes })
  }
  const feed = (async () => {
    try {
      // the path's blocks, then the terminus's DAG (which starts with the terminus block itself)
      for (const b of resolved.pathBlocks) if (!b.cid.equals(root)) await put(b.cid, b.bytes)
      if (req.scope === 'block') await put(root, await readBlock(store, root, { signal }))
      else if (req.scope === 'all') {
        const read = (cid: CID) => readBlock(store, cid, { signal })
        const walk = req.dups ? everyOccurrence(root, read) : readDag(root, blocksGetter(store, { signal }))
        for await (const b of walk) await put(b.cid, b.bytes)
      } else {
        for await (const { cid, bytes } of entityBlocks(store, root, req.entityBytes, req.dups, signal))
          await put(cid, bytes)
      }
    } finally {
      await writer.close()
    }
  })()
  return (async function* () {
    yield* out
    await feed
  })()
}

/** Depth-first, every block as often as the DAG links to it (`dups=y`). */
async function* everyOccurrence(
  root: CID,
  read: (cid: CID) => Promise<Uint8Array>,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const bytes = await read(cid)
    yield { cid, bytes }
    const children = links(cid, bytes)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
  }
}

/**
 * The blocks of the entity at `root`: a whole UnixFS file (or only the blocks covering
 * `range`), a directory's own node (and its HAMT shard nodes), or just the block otherwise.
 */
async function* entityBlocks(
  store: ReadableStorage,
  root: CID,
  range: EntityBytes | undefined,
  dups: boolean,
  signal: AbortSignal,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const bytes = await readBlock(store, root, { signal })
  yield { cid: root, bytes }
  if (root.code !== dagPb.code) return
  const node = dagPb.decode(bytes)
  const fs = node.Data == null ? undefined : UnixFS.unmarshal(node.Data)
  if (fs == null) return
  if (fs.type === 'hamt-sharded-directory') {
    yield* shardNodes(store, node, fs.fanout, new Set([blockKey(root)]), signal)
    return
  }
  if (fs.type !== 'file' && fs.type !== 'raw') return
  const size = Number(fs.fileSize())
  let from = 0
  let to = size - 1
  if (range != null) {
    from = range.from < 0 ? Math.max(0, size + range.from) : range.from
    to = range.to == null ? size - 1 : range.to < 0 ? size + range.to : Math.min(range.to, size - 1)
  }
  if (size === 0 || from > to || from >= size) return
  // without dups, a subtree written whole once is never walked again: a DAG that links one
  // subtree many times (2^40 paths in 41 blocks) costs its blocks, not its paths
  yield* fileBlocks(store, node, fs, 0, from, to, dups ? undefined : new Set(), signal)
}

/** The children of a file node that hold bytes in [from, to] (absolute offsets; `start` is this node's). */
async function* fileBlocks(
  store: ReadableStorage,
  node: dagPb.PBNode,
  fs: UnixFS,
  start: number,
  from: number,
  to: number,
  written: Set<string> | undefined,
  signal: AbortSignal,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  let offset = start + (fs.data?.length ?? 0)
  for (let i = 0; i < node.Links.length; i++) {
    const size = Number(fs.blockSizes[i] ?? 0n)
    const childStart = offset
    offset += size
    if (childStart > to || childStart + size - 1 < from) continue
    const cid = node.Links[i]!.Hash
    // wholly inside the range: every block under it is wanted, so one pass over it suffices
    const whole = childStart >= from && childStart + size - 1 <= to
    if (whole && written?.has(blockKey(cid))) continue
    const bytes = await readBlock(store, cid, { signal })
    yield { cid, bytes }
    if (cid.code === dagPb.code) {
      const child = dagPb.decode(bytes)
      if (child.Data != null)
        yield* fileBlocks(store, child, UnixFS.unmarshal(child.Data), childStart, from, to, written, signal)
    }
    if (whole) written?.add(blockKey(cid))
  }
}

/** The inner shard nodes of a HAMT directory (their link names are just the hex prefix). */
async function* shardNodes(
  store: ReadableStorage,
  node: dagPb.PBNode,
  fanout: bigint | undefined,
  seen: Set<string>,
  signal: AbortSignal,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const prefix = ((fanout ?? 256n) - 1n).toString(16).length
  for (const link of node.Links) {
    if ((link.Name ?? '').length !== prefix) continue
    // each shard node once: a shard linked from two slots, or from itself, is not walked again
    const key = blockKey(link.Hash)
    if (seen.has(key)) continue
    seen.add(key)
    const bytes = await readBlock(store, link.Hash, { signal })
    yield { cid: link.Hash, bytes }
    yield* shardNodes(store, dagPb.decode(bytes), fanout, seen, signal)
  }
}
