import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.ts'

/** Multihash codes this store can verify; a block of any other hash is refused at put. */
const NODE_HASH: ReadonlyMap<number, string> = new Map([
  [0x12, 'sha256'],
  [0x13, 'sha512'],
])
export const IDENTITY = 0x00
/**
 * The largest block stored (4 MiB): above Kubo's and bitswap's 2 MiB limit and our 1 MiB largest
 * chunk, so every real block fits; a CAR section or block claiming more is refused before it is read.
 */
export const MAX_BLOCK_SIZE = 4 << 20

/** Throws unless blocks of this CID's hash function can be stored and verified. */
export function assertSupportedHash(cid: CID): void {
  const code = cid.multihash.code
  if (code !== IDENTITY && !NODE_HASH.has(code)) {
    throw new InvalidInputError(
      `unsupported hash function 0x${code.toString(16)} in ${cid}: only sha2-256, sha2-512 and identity are stored`,
    )
  }
}

/** True when `bytes` hash to the digest in `cid`. */
export function matchesCid(cid: CID, bytes: Uint8Array): boolean {
  const { code, digest } = cid.multihash
  if (code === IDENTITY) return Buffer.from(digest).equals(bytes)
  const algorithm = NODE_HASH.get(code)
  if (algorithm == null) return false
  const actual = createHash(algorithm).update(bytes).digest()
  return actual.length === digest.length && actual.equals(digest)
}

/** A string key for a block's multihash: CIDv0 and CIDv1 of the same bytes share it. */
export function blockKey(cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}
