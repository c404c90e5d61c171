import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../blockstore/hashing.ts'
import { InvalidInputError } from '../errors.ts'
import { type BlockSource, blocksGetter, type ReadOptions } from './blocks.ts'

const CBOR = 0x51
const JSON_CODEC = 0x0200

/**
 * The CIDs a block links to; what a DAG walk (CAR export, gc, stat) follows. A block its codec cannot
 * decode (malformed bytes, nesting too deep for the decoder) is an InvalidInputError naming it,
 * never the decoder's own error.
 */
export function links(cid: CID, bytes: Uint8Array): CID[] {
  try {
    return decodeLinks(cid, bytes)
  } catch (err) {
    if (err instanceof InvalidInputError) throw err
    const why = err instanceof RangeError ? 'nested too deeply to decode' : (err as Error).message
    throw new InvalidInputError(`block ${cid} is not valid ${codecName(cid.code)}: ${why}`, { cause: err })
  }
}

function codecName(code: number): string {
  if (code === dagPb.code) return 'dag-pb'
  if (code === dagCbor.code) return 'dag-cbor'
  if (code === dagJson.code) return 'dag-json'
  return `codec 0x${code.toString(16)}`
}

function decodeLinks(cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case dagPb.code:
      return dagPb.decode(bytes).Links.map((l) => l.Hash)
    case raw.code:
    case CBOR:
    case JSON_CODEC:
      // plain CBOR and JSON carry no IPLD links
      return []
    case dagCbor.code:
      return cidsIn(dagCbor.decode(bytes))
    case dagJson.code:
      return cidsIn(dagJson.decode(bytes))
    default:
      throw new InvalidInputError(`cannot walk links of codec 0x${cid.code.toString(16)} in ${cid}`)
  }
}

/** The CIDs anywhere in a decoded value, found with an explicit stack (any depth, no recursion). */
function cidsIn(value: unknown): CID[] {
  const out: CID[] = []
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    const asCid = CID.asCID(v)
    if (asCid != null) out.push(asCid)
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i])
    else if (v != null && typeof v === 'object' && !(v instanceof Uint8Array)) {
      const values = Object.values(v)
      for (let i = values.length - 1; i >= 0; i--) stack.push(values[i])
    }
  }
  return out
}

/**
 * Every CID of a DAG once (by multihash), parents before children, children in link order.
 * `childrenOf` returns a block's links; it may throw, e.g. for a block that is missing.
 */
export function* walkDag(root: CID, childrenOf: (cid: CID) => CID[]): Generator<CID> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = blockKey(cid)
    if (seen.has(key)) continue
    seen.add(key)
    yield cid
    const children = childrenOf(cid)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
  }
}

/** Blocks read together when the walk reaches blocks it has not fetched yet. */
const PREFETCH = 16

/**
 * Reads every block of a DAG once, parents before children (depth first, children in link order,
 * as walkDag). When the walk reaches a block not yet read, it reads that block and up to
 * PREFETCH - 1 of the next ones on its stack in one `readMany` (a file's leaves: one read of
 * neighbouring blocks, or concurrent fetches from the network). At most PREFETCH blocks are held.
 */
export async function* readDag(
  root: CID,
  readMany: (cids: CID[]) => Promise<Uint8Array[]>,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  const seen = new Set<string>()
  const stack: CID[] = [root]
  const ready = new Map<string, Uint8Array>()
  while (stack.length > 0) {
    const cid = stack.pop()!
    const key = blockKey(cid)
    if (seen.has(key)) {
      ready.delete(key)
      continue
    }
    seen.add(key)
    let bytes = ready.get(key)
    if (bytes == null) {
      const batch = [cid]
      const keys = new Set([key])
      for (let i = stack.length - 1; i >= 0 && batch.length < PREFETCH; i--) {
        const next = stack[i]!
        const k = blockKey(next)
        if (seen.has(k) || keys.has(k) || ready.has(k)) continue
        keys.add(k)
        batch.push(next)
      }
      const blocks = await readMany(batch)
      bytes = blocks[0]!
      for (let i = 1; i < batch.length; i++) ready.set(blockKey(batch[i]!), blocks[i]!)
    } else {
      ready.delete(key)
    }
    yield { cid, bytes }
    const children = links(cid, bytes)
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!)
  }
}

/**
 * Every block of a DAG, parents before children, each once. (Here, not in blocks.ts: a walk decodes
 * dag-cbor and dag-json, whose modules `cat`, `get` and `ls` then need not load.)
 */
export async function* walkBlocks(
  store: BlockSource,
  root: CID,
  opts: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  for await (const { bytes } of readDag(root, blocksGetter(store, opts))) yield bytes
}
