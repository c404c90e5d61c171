// Malformed and adversarial content: CARs and UnixFS DAGs built by hand to break the decoders.
// Each must end in a clear error with a stable code, never a crash, a hang or unbounded memory.
import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { exportCar, importCar } from '../src/content/car.ts'
import { cat, get, ls, stat } from '../src/content/export.ts'
import { IpfsKitError } from '../src/errors.ts'
import { Repo } from '../src/repo.ts'
import { suiteTempDir } from './helpers/cli.ts'
import { carOf } from './helpers/fixtures.ts'

async function block(codec: { code: number }, bytes: Uint8Array): Promise<{ cid: CID; bytes: Uint8Array }> {
  const version = codec.code === dagPb.code ? 0 : 1
  const hash = await sha256.digest(bytes)
  return { cid: version === 0 ? CID.createV0(hash) : CID.createV1(codec.code, hash), bytes }
}

function fileNode(links: CID[], blockSizes: bigint[], data?: Uint8Array): Uint8Array {
  const unixfs = new UnixFS({ type: 'file', data, blockSizes })
  return dagPb.encode(
    dagPb.prepare({ Data: unixfs.marshal(), Links: links.map((Hash) => ({ Hash, Name: '', Tsize: 0 })) }),
  )
}

function dirNode(entries: { name: string; cid: CID }[]): Uint8Array {
  return dagPb.encode(
    dagPb.prepare({
      Data: new UnixFS({ type: 'directory' }).marshal(),
      Links: entries.map((e) => ({ Hash: e.cid, Name: e.name, Tsize: 0 })),
    }),
  )
}

async function* chunks(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0
  for await (const c of it) n += c.length
  return n
}

/** The promise fails with an IpfsKitError whose code is `code` and whose message matches `message`. */
async function rejectsClearly(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof IpfsKitError, `not an IpfsKitError: ${(err as Error)?.stack}`)
    assert.equal(err.code, code, err.message)
    assert.match(err.message, message)
    return true
  })
}

describe('hostile input: CARs and UnixFS DAGs built to break the decoders', () => {
  const tmp = suiteTempDir()
  let n = 0
  const repo = () => Repo.open(join(tmp.dir, `repo-${n++}`))

  it('a CAR cut at every length is refused with ERR_INVALID_CAR and stores nothing', async () => {
    const leaf = await block(raw, new TextEncoder().encode('leaf data '.repeat(50)))
    const root = await block(dagPb, fileNode([leaf.cid], [BigInt(leaf.bytes.length)]))
    const car = await carOf([root.cid], [root, leaf])
    const r = repo()
    try {
      for (let cut = 0; cut < car.length; cut += 7) {
        await rejectsClearly(importCar(r, chunks(car.subarray(0, cut))), 'ERR_INVALID_CAR', /CAR/)
        assert.equal(r.blocks.index.count().blocks, 0, `cut at ${cut}: nothing stored`)
      }
      await importCar(r, chunks(car))
      assert.equal(r.blocks.index.count().blocks, 2)
    } finally {
      await r.close()
    }
  })

  it('garbage, a wrong CID and a huge declared section length are refused, memory untouched', async () => {
    const r = repo()
    try {
      await rejectsClearly(
        importCar(r, chunks(new TextEncoder().encode('not a car at all'))),
        'ERR_INVALID_CAR',
        /not a valid CAR/,
      )
      const good = await block(raw, new TextEncoder().encode('honest bytes'))
      const liar = { cid: good.cid, bytes: new TextEncoder().encode('other bytes!') }
      await rejectsClearly(
        importCar(r, chunks(await carOf([good.cid], [liar]))),
        'ERR_INVALID_CAR',
        /does not match its CID/,
      )
      // a header, then a section that claims 2^40 bytes: a CID, then 10 bytes
      const header = (await carOf([good.cid], [])).slice()
      const varint = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20] // 2^40
      const before = process.memoryUsage().rss
      await rejectsClearly(
        importCar(r, chunks(Buffer.concat([header, Buffer.from(varint), good.cid.bytes, Buffer.alloc(10)]))),
        'ERR_INVALID_CAR',
        /declares 1099511627\d+ bytes, more than the largest block/,
      )
      assert.ok(process.memoryUsage().rss - before < 64 << 20, 'no allocation of the declared size')
      assert.equal(r.blocks.index.count().blocks, 0)
    } finally {
      await r.close()
    }
  })

  it('a file whose parent lies about its children sizes, or their count, fails naming the node', async () => {
    const r = repo()
    try {
      const leaf = await block(raw, new TextEncoder().encode('0123456789'))
      const tooBig = await block(dagPb, fileNode([leaf.cid], [1_000_000_000_000n]))
      const miscount = await block(dagPb, fileNode([leaf.cid, leaf.cid], [10n]))
      const w = r.blocks.writer()
      for (const b of [leaf, tooBig, miscount]) await w.put(b.cid, b.bytes)
      await w.commit()
      w.close()
      await rejectsClearly(
        drain(cat(r.blocks, tooBig.cid.toString())),
        'ERR_INVALID_INPUT',
        /malformed: child .* holds 10 bytes/,
      )
      await rejectsClearly(
        drain(cat(r.blocks, miscount.cid.toString())),
        'ERR_INVALID_INPUT',
        /malformed: 2 links but 1 block sizes/,
      )
      // a range inside the (claimed) file still reads only what exists, never past it
      await rejectsClearly(
        drain(cat(r.blocks, tooBig.cid.toString(), { offset: 5, length: 3 })),
        'ERR_INVALID_INPUT',
        /malformed/,
      )
      // stat reports the declared size without reading the lie
      assert.equal((await stat(r.blocks, tooBig.cid.toString())).size, 1_000_000_000_000n)
    } finally {
      await r.close()
    }
  })

  it('a file DAG 200 levels deep is refused; a DAG of 10^6 links walks, lists and exports; an oversized block is refused', async () => {
    const r = repo()
    try {
      const w = r.blocks.writer()
      const leaf = await block(raw, new Uint8Array([1, 2, 3]))
      await w.put(leaf.cid, leaf.bytes)
      let top = leaf
      for (let i = 0; i < 200; i++) {
        top = await block(dagPb, fileNode([top.cid], [3n]))
        await w.put(top.cid, top.bytes)
      }
      // 1,000 distinct directories of 1,000 links each under one root: 10^6 links
      const subdirs = []
      for (let d = 0; d < 1000; d++) {
        const entries = []
        for (let i = 0; i < 1000; i++) entries.push({ name: `d${d}-f${i}`, cid: leaf.cid })
        const sub = await block(dagPb, dirNode(entries))
        await w.put(sub.cid, sub.bytes)
        subdirs.push({ name: `d${d}`, cid: sub.cid })
      }
      const wide = await block(dagPb, dirNode(subdirs))
      await w.put(wide.cid, wide.bytes)
      // one block past the limit: refused before anything is written
      const huge = await block(raw, new Uint8Array((4 << 20) + 1))
      await rejectsClearly(w.put(huge.cid, huge.bytes), 'ERR_INVALID_INPUT', /more than the largest block/)
      await w.commit()
      w.close()
      await rejectsClearly(
        drain(cat(r.blocks, top.cid.toString())),
        'ERR_INVALID_INPUT',
        /deeper than 64 levels/,
      )
      assert.equal((await ls(r.blocks, wide.cid.toString())).length, 1000)
      assert.equal((await ls(r.blocks, `${wide.cid}/d999`)).length, 1000)
      const s = await stat(r.blocks, wide.cid.toString())
      assert.equal(s.blocks, 1002, 'the root, 1,000 directories and the one shared leaf')
      // the CAR holds each block once, and imports whole elsewhere
      const car: Uint8Array[] = []
      for await (const c of exportCar(r.blocks, wide.cid)) car.push(c)
      const r2 = repo()
      try {
        assert.equal((await importCar(r2, chunks(Buffer.concat(car)))).blocks, 1002)
      } finally {
        await r2.close()
      }
    } finally {
      await r.close()
    }
  })

  it('entry names that would leave the target, invalid dag-pb, and a directory inside a file', async () => {
    const r = repo()
    try {
      const w = r.blocks.writer()
      const leaf = await block(raw, new TextEncoder().encode('payload'))
      const evil = await block(dagPb, dirNode([{ name: '..', cid: leaf.cid }]))
      const slash = await block(dagPb, dirNode([{ name: 'a/../../b', cid: leaf.cid }]))
      const junk = await block(dagPb, new Uint8Array([0xff, 0xff, 0xff, 0x0f]))
      const dirInFile = await block(dagPb, fileNode([evil.cid], [7n]))
      for (const b of [leaf, evil, slash, junk, dirInFile]) await w.put(b.cid, b.bytes)
      await w.commit()
      w.close()
      for (const root of [evil, slash]) {
        const out = join(tmp.dir, `escape-${n++}`)
        await rejectsClearly(
          get(r.blocks, root.cid.toString(), out),
          'ERR_INVALID_INPUT',
          /unsafe entry name/,
        )
        assert.ok(!existsSync(out), 'nothing under the target name')
        assert.deepEqual(
          readdirSync(tmp.dir).filter((f) => f.includes('partial')),
          [],
          'no temp files left',
        )
      }
      await rejectsClearly(drain(cat(r.blocks, junk.cid.toString())), 'ERR_INVALID_INPUT', /not valid dag-pb/)
      await rejectsClearly(ls(r.blocks, junk.cid.toString()), 'ERR_INVALID_INPUT', /not valid dag-pb/)
      await rejectsClearly(
        drain(cat(r.blocks, dirInFile.cid.toString())),
        'ERR_INVALID_INPUT',
        /not file data/,
      )
    } finally {
      await r.close()
    }
  })
})
