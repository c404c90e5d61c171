import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { suiteTempDir } from '../../test/helpers/cli.ts'
import { COALESCE_BYTES } from '../blockstore/pack-store.ts'
import { SpanPool } from '../blockstore/span-pool.ts'
import { Repo } from '../repo.ts'
import { add } from './add.ts'
import { cat } from './cat.ts'

const MiB = 1 << 20
const SIZE = 64 * MiB

/** Deterministic, incompressible-looking bytes: SHA-256 in counter mode. */
async function* content(size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0, left = size; left > 0; i++) {
    const block = Buffer.alloc(Math.min(MiB, left))
    for (let o = 0; o < block.length; o += 32)
      createHash('sha256').update(`${i}:${o}`).digest().copy(block, o)
    left -= block.length
    yield block
  }
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('cat into reused read spans', () => {
  const tmp = suiteTempDir()
  let repo: Repo
  let expected: string
  const cids: Record<string, string> = {}
  before(async () => {
    repo = Repo.open(join(tmp.dir, 'repo'))
    const whole = createHash('sha256')
    for await (const b of content(SIZE)) whole.update(b)
    expected = whole.digest('hex')
    for (const [name, cidVersion] of [
      ['CIDv0, dag-pb leaves', 0],
      ['CIDv1, raw leaves', 1],
    ] as const) {
      const [entry] = await add(repo, { stream: content(SIZE), name: 'f' }, { cidVersion, pin: false })
      cids[name] = entry!.cid.toString()
    }
  })
  after(() => repo.close())

  for (const name of ['CIDv0, dag-pb leaves', 'CIDv1, raw leaves']) {
    it(`${name}: a consumer releasing each chunk 40 chunks late sees every chunk unchanged until it releases it, and spans are reused`, async () => {
      const spans = new SpanPool(COALESCE_BYTES)
      const whole = createHash('sha256')
      const held: { chunk: Uint8Array; digest: string }[] = []
      const check = (h: { chunk: Uint8Array; digest: string }) =>
        assert.equal(
          sha(h.chunk),
          h.digest,
          'a chunk changed before its release: its span was reused too early',
        )
      for await (const chunk of cat(repo.blocks, cids[name]!, { spans })) {
        whole.update(chunk)
        held.push({ chunk, digest: sha(chunk) })
        if (held.length > 40) {
          const h = held.shift()!
          check(h)
          spans.release(h.chunk)
        }
      }
      for (const h of held) check(h)
      assert.equal(whole.digest('hex'), expected)
      // 64 MiB is 16 spans read afresh; with reuse, the window (held chunks and read-ahead) bounds it
      assert.ok(spans.allocated <= 8, `${spans.allocated} spans allocated for a 64 MiB file`)
      for (const h of held) spans.release(h.chunk)
      assert.equal(spans.inUse, 0)
    })
  }

  it('a consumer that never releases gets the right bytes (nothing is reused), and a range too', async () => {
    const cid = cids['CIDv0, dag-pb leaves']!
    const spans = new SpanPool(COALESCE_BYTES)
    const chunks: Uint8Array[] = []
    for await (const chunk of cat(repo.blocks, cid, { spans })) chunks.push(chunk)
    assert.equal(sha(Buffer.concat(chunks)), expected)
    assert.ok(spans.allocated >= SIZE / COALESCE_BYTES, 'every span allocated afresh')
    const offset = 3 * MiB + 12345
    const length = 9 * MiB + 7
    const part: Uint8Array[] = []
    for await (const chunk of cat(repo.blocks, cid, { offset, length, spans: new SpanPool(COALESCE_BYTES) }))
      part.push(chunk)
    const all = Buffer.concat(chunks)
    assert.deepEqual(Buffer.concat(part), all.subarray(offset, offset + length))
  })
})
