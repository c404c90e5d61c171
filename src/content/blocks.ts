import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import type { SpanPool } from '../blockstore/span-pool.ts'
import { InvalidInputError, IpfsKitError, PathNotFoundError } from '../errors.ts'

export interface ReadOptions {
  signal?: AbortSignal
  /** Re-hash every local block read, whatever `hash_on_read` says (verification, `--verify`). */
  verify?: boolean
}

/** Where content verbs read blocks from: the local pack store, or any ReadableStorage (e.g. Helia's). */
export type BlockSource = ReadableStorage | LocalBlocks

/** The local pack store: blocks located in its index and read straight from its pack files. */
export interface LocalBlocks {
  readAsync(cid: CID, verify?: boolean): Promise<Uint8Array>
  /** With `spans`, neighbouring blocks are read into pooled spans (see SpanPool). */
  readMany(cids: readonly CID[], verify?: boolean, spans?: SpanPool): Promise<Uint8Array[]>
}

/** Fetches one whole block. */
export type GetBlock = (cid: CID) => Promise<Uint8Array>
/** Fetches several blocks at once, in order: neighbours in one read locally, concurrently from the network. */
export type GetBlocks = (cids: readonly CID[]) => Promise<Uint8Array[]>

/** One block getter per read, honouring `signal` between blocks. */
export function blockGetter(store: BlockSource, opts: ReadOptions = {}): GetBlock {
  const { signal, verify } = opts
  if (isLocal(store)) {
    return async (cid) => {
      signal?.throwIfAborted()
      return store.readAsync(cid, verify)
    }
  }
  return async (cid) => {
    signal?.throwIfAborted()
    const parts: Uint8Array[] = []
    for await (const part of store.get(cid, { signal })) parts.push(part)
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }
}

/** Like blockGetter, for runs of blocks (a file's leaves). */
export function blocksGetter(store: BlockSource, opts: ReadOptions = {}, spans?: SpanPool): GetBlocks {
  if (isLocal(store)) {
    return async (cids) => {
      opts.signal?.throwIfAborted()
      return store.readMany(cids, opts.verify, spans)
    }
  }
  const get = blockGetter(store, opts)
  return (cids) => Promise.all(cids.map(get))
}

function isLocal(store: BlockSource): store is LocalBlocks {
  return typeof (store as Partial<LocalBlocks>).readMany === 'function'
}

/** Reads one whole block from any source. */
export async function readBlock(store: BlockSource, cid: CID, opts: ReadOptions = {}): Promise<Uint8Array> {
  return blockGetter(store, opts)(cid)
}

/** Errors of the exporter (used for HAMT directories) become errors with our codes. */
export function translateError(err: unknown): unknown {
  if (err instanceof IpfsKitError) return err
  const e = err as Error & { code?: string }
  if (e.name === 'NotFoundError' || e.code === 'ERR_NOT_FOUND') {
    return new PathNotFoundError(e.message)
  }
  if (e.name === 'NoResolverError')
    return new InvalidInputError(`cannot read this kind of block: ${e.message}`)
  return err
}
