import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
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
