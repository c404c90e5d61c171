import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { exporter, type ReadableStorage, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../../blockstore/hashing.ts'
import { readBlock, translateError } from '../../content/blocks.ts'
import { IpfsKitError } from '../../errors.ts'

/** A content path resolved down to its last entry. */
export interface Resolved {
  entry: UnixFSEntry
  /** The CID of the root and of each path segment, for X-Ipfs-Roots. */
  roots: CID[]
  /** Every block read to walk the path (parents first), so a CAR can prove the path. */
  pathBlocks: { cid: CID; bytes: Uint8Array }[]
}

const CBOR = 0x51

/**
 * Resolves `<cid>/<segments>`: UnixFS names through dag-pb directories (HAMT shards included), and
 * links through dag-cbor / dag-json maps. A missing root or name is a 404 (never a network wait);
 * a path that ends inside a block rather than at a link is a 501, as in Kubo.
 */
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
  let cid = root
  let rest = segments
  while (rest.length > 0 && cid.code !== dagPb.code && cid.code !== raw.code) {
    const next = await followLink(recording, cid, rest, signal)
    cid = next.cid
    rest = next.rest
    roots.push(cid)
  }
  let entry = await entryAt(recording, cid.toString(), signal)
  for (let i = 0; i < rest.length; i++) {
    const prefix = [cid.toString(), ...rest.slice(0, i + 1)].join('/')
    entry = await entryAt(recording, prefix, signal)
    roots.push(entry.cid)
  }
  return { entry, roots, pathBlocks }
}

/** The exporter's entry for a path (its file reader is not used: file bytes come from the content core's bounded reader). */
async function entryAt(store: ReadableStorage, path: string, signal?: AbortSignal): Promise<UnixFSEntry> {
  try {
    return await exporter(path, store, { signal })
  } catch (err) {
    throw translateError(err)
  }
}

/** Walks `rest` inside one dag-cbor / dag-json block until it reaches a link. */
async function followLink(
  store: ReadableStorage,
  cid: CID,
  rest: string[],
  signal: AbortSignal | undefined,
): Promise<{ cid: CID; rest: string[] }> {
  const bytes = await readBlock(store, cid, { signal })
  let value: unknown = decode(cid, bytes)
  for (let i = 0; i < rest.length; i++) {
    const name = rest[i]!
    if (
      value == null ||
      typeof value !== 'object' ||
      !Object.hasOwn(value, name) ||
      value instanceof Uint8Array
    ) {
      throw new IpfsKitError('ERR_NOT_FOUND', `no link named "${name}" in ${cid}`)
    }
    value = (value as Record<string, unknown>)[name]
    const link = CID.asCID(value)
    if (link != null) return { cid: link, rest: rest.slice(i + 1) }
  }
  throw new IpfsKitError(
    'ERR_NOT_IMPLEMENTED',
    `/${rest.join('/')} ends inside block ${cid}, not at a link: only paths through links are served`,
  )
}

function decode(cid: CID, bytes: Uint8Array): unknown {
  switch (cid.code) {
    case dagCbor.code:
    case CBOR:
      return dagCbor.decode(bytes)
    case dagJson.code:
      return dagJson.decode(bytes)
    case json.code:
      return json.decode(bytes)
    default:
      throw new IpfsKitError(
        'ERR_NOT_FOUND',
        `cannot walk a path inside ${cid} (codec 0x${cid.code.toString(16)})`,
      )
  }
}
