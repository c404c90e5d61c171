// gc beside a running daemon and beside adds in flight: the disk is freed at once, the daemon
// holds no deleted pack open, small packs merge, and no block an add or a new pin needs is lost.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { gc } from '../src/content/gc.ts'
import { Repo, recordLocalPin } from '../src/repo.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { startDaemon } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

function packFiles(home: string): string[] {
  return readdirSync(join(home, 'blocks', 'packs'))
}
function packBytes(home: string): number {
  return packFiles(home).reduce((n, f) => n + statSync(join(home, 'blocks', 'packs', f)).size, 0)
}
/** Files the process holds open that were deleted (still taking disk space). */
function deletedOpenFiles(pid: number): string[] {
  const out: string[] = []
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`)
      if (target.endsWith('(deleted)')) out.push(target)
    } catch {}
  }
  return out
}

async function rawBlock(text: string) {
  const bytes = new TextEncoder().encode(text)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

describe('gc', () => {
  const tmp = suiteTempDir()

  it('`ipfs-kit gc` with the daemon running goes through it: space freed at once, no deleted pack held open, small packs merged', async () => {
    const home = join(tmp.dir, 'home')
    const files: { path: string; pin: boolean; cid?: string }[] = []
    for (let i = 0; i < 6; i++) {
      const path = join(tmp.dir, `f${i}.bin`)
      writeRandomFile(path, 2 * MiB, `gc-${i}`)
      files.push({ path, pin: i % 2 === 0 })
    }
    const daemon = await startDaemon(home)
    try {
      // each CLI add makes a pack of its own; the daemon reads some of them (it opens their handles)
      for (const f of files) {
        const r = await run(['ipfs', 'add', '-Q', `--pin=${f.pin}`, f.path], { home })
        assert.equal(r.code, 0, r.stderr)
        f.cid = r.stdout.toString().trim()
      }
      for (const f of files) {
        // through the daemon's local backend: it opens (and caches) a handle to each pack
        const res = await daemon.call(`/pins/${f.cid}`)
        assert.ok(res.status === 200 || res.status === 404)
      }
      await daemon.call('/replication/sync', { method: 'POST', json: { wait: true, verify: true } })
      assert.ok(packFiles(home).length >= 6)
      const before = packBytes(home)

      const r = await run(['--json', 'gc'], { home })
      assert.equal(r.code, 0, r.stderr)
      const result = JSON.parse(r.stdout.toString())
      assert.ok(result.removedBlocks > 0)
      assert.ok(packBytes(home) <= before - 3 * 2 * MiB, 'the three unpinned files are freed')
      assert.deepEqual(deletedOpenFiles(daemon.child.pid!), [], 'the daemon holds no deleted pack open')
      assert.ok(packFiles(home).length <= 2, `small packs merged: ${packFiles(home).join(', ')}`)
      for (const f of files) {
        const cat = await run(['ipfs', 'cat', f.cid!], { home })
        if (f.pin) assert.ok(cat.stdout.equals(readFileSync(f.path)), 'pinned content intact')
        else assert.equal(cat.code, 1)
      }
      assert.equal((await run(['repo', 'verify'], { home })).code, 0)
    } finally {
      await daemon.stop()
    }
  })

  it('never removes a block an add in flight may have deduplicated, nor one a pin made during the sweep reaches', async () => {
    const dir = join(tmp.dir, 'race')
    const a = Repo.open(dir)
    const b = Repo.open(dir) // "another process": its own connections
    try {
      const dead = await rawBlock('unpinned, about to be collected')
      const w = b.blocks.writer()
      await w.put(dead.cid, dead.bytes)
      await w.commit()
      w.close()

      // an add in flight (a live writer) blocks the sweep; gc gives up after maxWaitMs and says so
      const inflight = b.blocks.writer()
      const deferred = await gc(a, { maxWaitMs: 200 })
      assert.equal(deferred.deferred, true)
      assert.equal(deferred.removedBlocks, 0)
      assert.ok(a.blocks.has(dead.cid))
      inflight.close()

      // a pin recorded by an add that finishes after the mark: the sweep sees it and keeps the block
      const result = await gc(a, {
        onProgress: (p) => {
          if (p.phase !== 'sweep') return
          const add = b.blocks.writer()
          recordLocalPin(b, dead.cid.toString())
          add.close()
        },
      })
      assert.equal(result.removedBlocks, 0)
      assert.ok(a.blocks.has(dead.cid), 'kept: a pin reaches it now')

      // unpinned again: now it goes
      b.pins.remove(dead.cid)
      const last = await gc(a)
      assert.equal(last.removedBlocks, 1)
      assert.equal(a.blocks.has(dead.cid), false)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
