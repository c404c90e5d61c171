import type { ReadableStorage, UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { blockKey } from '../../blockstore/hashing.ts'
import { readBlock, resolve } from '../../content/export.ts'
import { IpfsKitError } from '../../errors.ts'

/** A content path resolved down to its last entry. */
export interface Resolved {
  entry: UnixFSEntry
  /** The CID of the root and of each path segment, for X-Ipfs-Roots. */
  roots: CID[]
  /** Every block read to walk the path (parents first), so a CAR can prove the path. */
  pathBlocks: { cid: CID; bytes: Uint8Array }[]
}

/** Resolves `<cid>/<segments>`: a missing root or a missing name is a 404, never a network wait. */
export async function resolvePath(
  store: ReadableStorage,
  root: CID,
  segments: string[],
  signal?: AbortSignal,
): Promise<Resolved> {
  const pathBlocks: { cid: CID; bytes: Uint8Array }[] = []
  const seen = new Set<string>()
  const recording: ReadableStorage = {
    async *get(cid, opts) {
      const bytes = await readBlock(store, cid, opts)
      const key = blockKey(cid)
      if (!seen.has(key)) {
        seen.add(key)
        pathBlocks.push({ cid, bytes })
      }
      yield bytes
    },
  }
  const roots: CID[] = [root]
  let entry = await notFoundIfMissing(() => resolve(recording, root.toString(), { signal }))
  for (let i = 0; i < segments.length; i++) {
    const prefix = [root.toString(), ...segments.slice(0, i + 1)].join('/')
    entry = await notFoundIfMissing(() => resolve(recording, prefix, { signal }))
    roots.push(entry.cid)
  }
  return { entry, roots, pathBlocks }
}

/** The content core reports a missing name as invalid input ("no such path"); over HTTP that is a 404. */
async function notFoundIfMissing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (
      err instanceof IpfsKitError &&
      err.code === 'ERR_INVALID_INPUT' &&
      err.message.startsWith('no such path')
    ) {
      throw new IpfsKitError('ERR_NOT_FOUND', err.message)
    }
    throw err
  }
}
