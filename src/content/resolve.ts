import type { CID } from 'multiformats/cid'
import { blockKey } from '../blockstore/hashing.ts'
import { InvalidInputError, PathNotFoundError } from '../errors.ts'
import {
  type BlockSource,
  blockGetter,
  blocksGetter,
  type GetBlock,
  type ReadOptions,
  translateError,
} from './blocks.ts'
import { parseIpfsPath } from './cid.ts'
import { type ContentNode, decodeNode } from './node.ts'

/** A resolved path: the node it names and the name of its last segment. */
export type Resolved = ContentNode & { name: string }

/** One entry of a directory. */
export interface DirLink {
  name: string
  cid: CID
  /** The link's Tsize: what its parent records of the entry's size (for a raw block, its length). */
  tsize?: number
}

/**
 * Resolves "<cid>[/path]" to the node it names. Plain directories are walked here, one block per
 * segment; a HAMT-sharded directory is asked through ipfs-unixfs-exporter, loaded only then.
 */
export async function resolve(store: BlockSource, path: string, opts: ReadOptions = {}): Promise<Resolved> {
  const { cid, segments } = parseIpfsPath(path)
  const get = blockGetter(store, opts)
  let current = await readNode(get, cid)
  let name = cid.toString()
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    let next: CID | undefined
    if (current.kind === 'directory') {
      next = current.node.Links.find((l) => l.Name === segment)?.Hash
    } else if (current.kind === 'hamt') {
      next = await hamtChild(store, current.cid, segment, opts)
    } else {
      throw new PathNotFoundError(`${segments.slice(0, i).join('/') || current.cid} is not a directory`)
    }
    if (next == null) {
      throw new InvalidInputError(
        `no such path: ${segment} is not in ${segments.slice(0, i).join('/') || cid}`,
      )
    }
    current = await readNode(get, next)
    name = segment
  }
  return { ...current, name }
}

/** Reads and decodes one block. */
export async function readNode(get: GetBlock, cid: CID): Promise<ContentNode> {
  return decodeNode(cid, await get(cid))
}

/** The entries of a directory node, in stored order; HAMT shards through the exporter. */
export async function* dirLinks(
  store: BlockSource,
  dir: ContentNode,
  opts: ReadOptions = {},
): AsyncGenerator<DirLink> {
  if (dir.kind === 'directory') {
    for (const link of dir.node.Links) yield { name: link.Name ?? '', cid: link.Hash, tsize: link.Tsize }
    return
  }
  if (dir.kind !== 'hamt') throw new InvalidInputError(`${dir.cid} is not a directory`)
  yield* shardEntries(store, dir, opts)
}

/**
 * A directory's entries are read this many at a time: their blocks, stored side by side by an add,
 * come in one read (or are fetched concurrently from peers), not one round trip each. At most this
 * many entry blocks (each at most 4 MiB) are held at once.
 */
const DIR_BATCH = 16

/**
 * The entries of a directory with their decoded nodes, in stored order, DIR_BATCH at a time.
 * `check` sees each link as it is listed, before any block of its batch is read (to refuse a name);
 * a link `unread` says true of is yielded without its node, its block never read.
 */
export async function* dirEntries(
  store: BlockSource,
  dir: ContentNode,
  opts: ReadOptions = {},
  hooks: { check?: (link: DirLink) => void; unread?: (link: DirLink) => boolean } = {},
): AsyncGenerator<{ link: DirLink; node?: ContentNode }> {
  const getMany = blocksGetter(store, opts)
  let batch: DirLink[] = []
  async function* flush(): AsyncGenerator<{ link: DirLink; node?: ContentNode }> {
    const links = batch
    batch = []
    const wanted = links.filter((l) => hooks.unread?.(l) !== true)
    const blocks: (Uint8Array | undefined)[] =
      wanted.length > 0 ? await getMany(wanted.map((l) => l.cid)) : []
    let b = 0
    for (const link of links) {
      if (hooks.unread?.(link) === true) {
        yield { link }
        continue
      }
      const node = decodeNode(link.cid, blocks[b]!)
      blocks[b++] = undefined
      yield { link, node }
    }
  }
  for await (const link of dirLinks(store, dir, opts)) {
    hooks.check?.(link)
    batch.push(link)
    if (batch.length === DIR_BATCH) yield* flush()
  }
  yield* flush()
}

/** Deeper than any HAMT a 64-bit hash allows (fanout 8: 22 levels). */
const MAX_SHARD_DEPTH = 64

/**
 * A HAMT directory's entries, depth-first in link order (as Kubo lists them). A link named by the
 * hex prefix alone is a sub-shard; a longer name is an entry (prefix + name). Each sub-shard is
 * read once: a shard that links one sub-shard from two slots (2^40 entries in 42 blocks) or
 * contains itself (a block stored under a CID it does not hash to) is refused, as is one nested
 * deeper than a 64-bit hash can address. (ipfs-unixfs-exporter walked those without end.)
 */
async function* shardEntries(
  store: BlockSource,
  dir: Extract<ContentNode, { node: unknown }>,
  opts: ReadOptions,
): AsyncGenerator<DirLink> {
  const get = blockGetter(store, opts)
  const prefix = ((dir.unixfs.fanout ?? 256n) - 1n).toString(16).length
  const seen = new Set([blockKey(dir.cid)])
  const stack = [{ links: dir.node.Links, next: 0 }]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!
    if (top.next >= top.links.length) {
      stack.pop()
      continue
    }
    const link = top.links[top.next++]!
    const name = link.Name ?? ''
    if (name.length > prefix) {
      yield { name: name.slice(prefix), cid: link.Hash, tsize: link.Tsize }
      continue
    }
    if (name.length < prefix)
      throw new InvalidInputError(
        `HAMT directory ${dir.cid}: link ${JSON.stringify(name)} lacks its ${prefix}-digit prefix`,
      )
    const key = blockKey(link.Hash)
    if (seen.has(key))
      throw new InvalidInputError(`HAMT directory ${dir.cid} reaches sub-shard ${link.Hash} twice: malformed`)
    if (stack.length >= MAX_SHARD_DEPTH)
      throw new InvalidInputError(`HAMT directory ${dir.cid} is nested deeper than ${MAX_SHARD_DEPTH} levels`)
    seen.add(key)
    const shard = await readNode(get, link.Hash)
    if (shard.kind !== 'hamt')
      throw new InvalidInputError(`HAMT directory ${dir.cid}: ${link.Hash} in slot ${name} is not a shard`)
    stack.push({ links: shard.node.Links, next: 0 })
  }
}

async function hamtChild(
  store: BlockSource,
  dir: CID,
  name: string,
  opts: ReadOptions,
): Promise<CID | undefined> {
  const { exporter } = await import('ipfs-unixfs-exporter')
  try {
    const entry = await exporter(
      `${dir}/${name}`,
      store as import('ipfs-unixfs-exporter').ReadableStorage,
      opts,
    )
    return entry.cid
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.name === 'NotFoundError' || e.code === 'ERR_NOT_FOUND') return undefined
    throw translateError(err)
  }
}
