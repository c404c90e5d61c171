import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { UnixFS } from 'ipfs-unixfs'
import { varint } from 'multiformats'

/** A UnixFS file node's bytes as the spec (and Kubo) writes them: Type=2, filesize, blocksizes. */
function expected(size: number): string {
  const v = Buffer.from(varint.encodeTo(size, new Uint8Array(varint.encodingLength(size)))).toString('hex')
  return `0802${'18'}${v}${'20'}${v}`
}

describe('UnixFS sizes past 2^31 (scripts/patch-deps.mjs)', () => {
  it('writes and reads back a file size of 2-4 GiB exactly (protons-runtime wrote zero bytes there)', () => {
    for (const size of [2 ** 31 - 1, 2 ** 31, 3 * 2 ** 30, 2 ** 32 - 1, 2 ** 32, 5 * 2 ** 30, 2 ** 50]) {
      const node = new UnixFS({ type: 'file', blockSizes: [BigInt(size)] })
      const bytes = node.marshal()
      assert.equal(Buffer.from(bytes).toString('hex'), expected(size), `the bytes for ${size}`)
      assert.equal(UnixFS.unmarshal(bytes).fileSize(), BigInt(size), `read back ${size}`)
    }
  })
})
