import assert from 'node:assert/strict'
import { openSync, readdirSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { suiteTempDir } from '../../test/helpers/cli.ts'
import { BlockCorruptError, BlockNotFoundError, InvalidInputError } from '../errors.ts'
import { PackStore, verifyAll } from './pack-store.ts'

async function block(text: string): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('PackStore', () => {
  const tmp = suiteTempDir()

  it('stores a block on commit and reads it back from another open store (another process)', async () => {
    const root = join(tmp.dir, 'a')
    const store = PackStore.open(root)
    const other = PackStore.open(root)
    const { cid, bytes } = await block('hello')
    const writer = store.writer()
    await writer.put(cid, bytes)
    assert.equal(other.has(cid), false, 'an uncommitted block must be invisible to other readers')
    await writer.commit()
    writer.close()
    assert.equal(other.has(cid), true)
    assert.deepEqual(Buffer.from(other.read(cid)), Buffer.from(bytes))
    await store.close()
    await other.close()
  })

  it('serves a block under CIDv0 and CIDv1 alike (keyed by multihash)', async () => {
    const store = PackStore.open(join(tmp.dir, 'b'))
    const { cid, bytes } = await block('same bytes')
    await store.put(cid, bytes)
    const asV1DagPb = CID.createV1(0x70, cid.multihash)
    assert.equal(store.has(asV1DagPb), true)
    await store.close()
  })

  it('group-commits concurrent single puts and they are durable when put resolves', async () => {
    const root = join(tmp.dir, 'c')
    const store = PackStore.open(root)
    const blocks = await Promise.all(Array.from({ length: 50 }, (_, i) => block(`block ${i}`)))
    await Promise.all(blocks.map((b) => store.put(b.cid, b.bytes)))
    const reader = PackStore.open(root)
    for (const b of blocks) assert.deepEqual(Buffer.from(reader.read(b.cid)), Buffer.from(b.bytes))
    assert.equal(readdirSync(join(root, 'packs')).length, 1, 'one pack file per process')
    await store.close()
    await reader.close()
  })

  it('finds a block whose bytes were corrupted on disk whenever it verifies: hash_on_read, read(cid, true), repo verify', async () => {
    const root = join(tmp.dir, 'd')
    const store = PackStore.open(root)
    const { cid, bytes } = await block('precious data')
    await store.put(cid, bytes)
    const loc = store.locate(cid)!
    const fd = openSync(store.packPath(loc.pack), 'r+')
    writeSync(fd, Buffer.from('X'), 0, 1, loc.offset + 3)
    const reader = PackStore.open(root)
    // the default, as Kubo's HashOnRead=false: the bytes are served as stored
    assert.notDeepEqual(Buffer.from(reader.read(cid)), Buffer.from(bytes))
    assert.throws(() => reader.read(cid, true), BlockCorruptError)
    await assert.rejects(reader.readAsync(cid, true), BlockCorruptError)
    reader.hashOnRead = true
    assert.throws(() => reader.read(cid), BlockCorruptError)
    await assert.rejects(reader.readAsync(cid), BlockCorruptError)
    const results = [...verifyAll(reader)]
    assert.equal(results.filter((r) => !r.ok).length, 1)
    await store.close()
    await reader.close()
  })

  it('says clearly when a block is missing, and refuses hashes it cannot verify', async () => {
    const store = PackStore.open(join(tmp.dir, 'e'))
    const { cid } = await block('never stored')
    assert.throws(() => store.read(cid), BlockNotFoundError)
    const blake = CID.parse('bafk2bzaceaiddqtdgcbpzqqy3zk5yrjgiycamlzd3hfr5nmbwudwnbdvbagrm')
    await assert.rejects(store.writer().put(blake, new Uint8Array([1])), InvalidInputError)
    await store.close()
  })

  it('an aborted (uncommitted) write session leaves nothing visible', async () => {
    const root = join(tmp.dir, 'f')
    const store = PackStore.open(root)
    const { cid, bytes } = await block('abandoned')
    const writer = store.writer()
    await writer.put(cid, bytes)
    writer.close()
    assert.equal(store.has(cid), false)
    await store.close()
  })

  it('small blocks (read on the calling thread) and large ones are found again when gc moved their pack after the lookup', async () => {
    const store = PackStore.open(join(tmp.dir, 'g'))
    const small = await block('a small block, read with pread(2) on the calling thread')
    const bigBytes = new Uint8Array(64 << 10).fill(7)
    const big = { cid: CID.createV1(raw.code, await sha256.digest(bigBytes)), bytes: bigBytes }
    const writer = store.writer()
    for (const b of [small, big]) await writer.put(b.cid, b.bytes)
    await writer.commit()
    writer.close()
    // the first lookup of each block answers a pack that gc has since removed
    const locate = store.locate.bind(store)
    const stale = new Set<string>()
    store.locate = (cid) => {
      const loc = locate(cid)
      if (loc == null || stale.has(cid.toString())) return loc
      stale.add(cid.toString())
      return { ...loc, pack: 999_999 }
    }
    for (const b of [small, big]) {
      stale.clear()
      assert.deepEqual(Buffer.from(await store.readAsync(b.cid)), Buffer.from(b.bytes), 'readAsync')
      stale.clear()
      assert.deepEqual(Buffer.from((await store.readMany([b.cid]))[0]!), Buffer.from(b.bytes), 'readMany')
    }
    // and both side by side (one run, read at once)
    stale.clear()
    const both = await store.readMany([small.cid, big.cid])
    assert.deepEqual(Buffer.from(both[1]!), Buffer.from(big.bytes))
    await store.close()
  })
})
