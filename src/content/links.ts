import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { blockKey } from '../blockstore/hashing.ts'
import { InvalidInputError } from '../errors.ts'

/** The CIDs a block links to; what a DAG walk (CAR export, gc, stat) follows. */
export function links(cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case dagPb.code:
      return dagPb.decode(bytes).Links.map((l) => l.Hash)
    case raw.code:
      return []
    case dagCbor.code:
      return cidsIn(dagCbor.decode(bytes))
    case dagJson.code:
      return cidsIn(dagJson.decode(bytes))
    default:
      throw new InvalidInputError(`cannot walk links of codec 0x${cid.code.toString(16)} in ${cid}`)
  }
}

function cidsIn(value: unknown, out: CID[] = []): CID[] {
  const asCid = CID.asCID(value)
  if (asCid != null) out.push(asCid)
  else if (Array.isArray(value)) for (const v of value) cidsIn(v, out)
  else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) cidsIn(v, out)
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

/** Reads every block of a DAG once, parents before children, through an async `read`. */
export async function* readDag(
  root: CID,
  read: (cid: CID) => Promise<Uint8Array>,
): AsyncGenerator<{ cid: CID; bytes: Uint8Array }> {
  // the walk asks for a block's children when it resumes, after the block was read here
  const pending = new Map<string, CID[]>()
  const childrenOf = (cid: CID): CID[] => {
    const key = blockKey(cid)
    const children = pending.get(key) ?? []
    pending.delete(key)
    return children
  }
  for (const cid of walkDag(root, childrenOf)) {
    const bytes = await read(cid)
    pending.set(blockKey(cid), links(cid, bytes))
    yield { cid, bytes }
  }
}
