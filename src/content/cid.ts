import { CID } from 'multiformats/cid'
import { InvalidCidError, InvalidInputError } from '../errors.ts'

/** Parses a CID, accepting a leading /ipfs/ as Kubo does; throws InvalidCidError. */
export function parseCid(input: string): CID {
  const s = input.trim().replace(/^\/ipfs\//, '')
  try {
    return CID.parse(s)
  } catch (err) {
    throw new InvalidCidError(input, { cause: err })
  }
}

/** An IPFS path: a root CID and the names below it ("<cid>/dir/file" or "/ipfs/<cid>/..."). */
export interface IpfsPath {
  cid: CID
  segments: string[]
  /** The canonical "<cid>/a/b" string the exporter takes. */
  text: string
}

export function parseIpfsPath(input: string): IpfsPath {
  const s = input.trim().replace(/^\/ipfs\//, '')
  const [root = '', ...rest] = s.split('/')
  const cid = parseCid(root)
  const segments = rest.filter((seg) => seg !== '')
  for (const seg of segments) {
    if (seg === '.' || seg === '..')
      throw new InvalidInputError(`invalid path "${input}": "." and ".." are not allowed`)
  }
  return { cid, segments, text: [cid.toString(), ...segments].join('/') }
}
