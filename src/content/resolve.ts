import type { CID } from 'multiformats/cid'
import { InvalidInputError, PathNotFoundError } from '../errors.ts'
import { type BlockSource, blockGetter, type GetBlock, type ReadOptions, translateError } from './blocks.ts'
import { parseIpfsPath } from './cid.ts'
import { type ContentNode, decodeNode } from './node.ts'

/** A resolved path: the node it names and the name of its last segment. */
export type Resolved = ContentNode & { name: string }

/** One entry of a directory. */
export interface DirLink {
  name: string
  cid: CID
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
    for (const link of dir.node.Links) yield { name: link.Name ?? '', cid: link.Hash }
    return
  }
  if (dir.kind !== 'hamt') throw new InvalidInputError(`${dir.cid} is not a directory`)
  const { exporter } = await import('ipfs-unixfs-exporter')
  try {
    const entry = await exporter(dir.cid, store as import('ipfs-unixfs-exporter').ReadableStorage, opts)
    if (entry.type !== 'directory') throw new InvalidInputError(`${dir.cid} is not a directory`)
    for await (const child of entry.entries({ signal: opts.signal }))
      yield { name: child.name, cid: child.cid }
  } catch (err) {
    throw translateError(err)
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
