import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { DaemonClient } from '../src/client/daemon-client.ts'
import { openStateDb } from '../src/state/db.ts'
import { PinStore } from '../src/state/pins.ts'
import { ReplicaStore } from '../src/state/replicas.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'

const MiB = 1 << 20

function cidOf(seed: string): string {
  return CID.createV1(
    raw.code,
    Digest.create(sha256.code, createHash('sha256').update(seed).digest()),
  ).toString()
}

/** The peak resident memory of a process so far (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
  return Number(kb) * 1024
}

/** Records `n` pins straight into state.db (many share a creation millisecond), each with a verified local copy. */
function seedPins(home: string, n: number): string[] {
  mkdirSync(home, { recursive: true })
  const db = openStateDb(join(home, 'state.db'))
  const pins = new PinStore(db)
  const replicas = new ReplicaStore(db)
  const cids: string[] = []
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const cid = cidOf(`paging ${i}`)
      cids.push(cid)
      pins.add(cid, { name: i % 2 === 0 ? 'even' : 'odd' })
      replicas.set(cid, 'local', 'verified')
    }
  })()
  db.close()
  return cids
}

describe('every GET is bounded', () => {
  const tmp = suiteTempDir()

  it('20 concurrent tails of a 100 MB log keep the daemon small and return the last lines', async () => {
    const home = join(tmp.dir, 'logs')
    writeConfig(home, { port: 0, max_log_size: '1GB' })
    mkdirSync(join(home, 'logs'), { recursive: true })
    const fd = openSync(join(home, 'logs', 'daemon.log'), 'w')
    const block = Buffer.from(`${'an old log line that nobody asked for '.repeat(2)}\n`.repeat(16_384))
    for (let written = 0; written < 100 * MiB; written += block.length) writeSync(fd, block)
    writeSync(fd, 'the last line before the daemon started\n')
    closeSync(fd)
    const d = await startDaemon(home)
    try {
      const before = peakRss(d.child.pid!)
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => json(d.call('/logs/daemon?lines=10', { auth: false }))),
      )
      const growth = peakRss(d.child.pid!) - before
      for (const a of answers) {
        assert.equal(a.lines.length, 10)
        assert.ok(a.lines.includes('the last line before the daemon started'), JSON.stringify(a.lines))
      }
      // reading every file whole grew the daemon by 1.28 GB; chunks from the end cost a few MB
      assert.ok(growth < 64 * MiB, `daemon peak RSS grew by ${(growth / MiB).toFixed(0)} MiB`)
      const most = await json(d.call('/logs/daemon?lines=10000', { auth: false }))
      assert.equal(most.lines.length, 10_000)
    } finally {
      await d.stop()
    }
  })

  it('paging with a cursor returns every pin exactly once, newest first, with PSA counts', async () => {
    const home = join(tmp.dir, 'paging')
    writeConfig(home, { port: 0 })
    const cids = seedPins(home, 2500)
    const d = await startDaemon(home)
    try {
      const first = await json(d.call('/pins?limit=10'))
      assert.equal(first.results.length, 10)
      assert.equal(first.count, 2500)
      const seen: string[] = []
      let before: string | undefined
      for (;;) {
        const page = await json(d.call(`/pins?limit=100${before != null ? `&before=${before}` : ''}`))
        assert.equal(page.count, 2500 - seen.length, 'count is what remains after the cursor')
        seen.push(...page.results.map((p: { requestid: string }) => p.requestid))
        for (let i = 1; i < page.results.length; i++)
          assert.ok(page.results[i - 1].created >= page.results[i].created, 'newest first')
        if (page.results.length < 100) break
        before = page.results.at(-1).requestid
      }
      assert.equal(seen.length, 2500)
      assert.deepEqual([...seen].sort(), [...cids].sort())
      // a filter is applied in SQL, and counted
      const even = await json(d.call('/pins?limit=1000&name=even'))
      assert.equal(even.count, 1250)
      assert.equal(even.results.length, 1000)
      assert.equal((await json(d.call('/pins?status=queued,failed'))).count, 0)
      assert.equal((await json(d.call('/pins?status=pinned'))).count, 2500)
      // the library pages for you
      const client = new DaemonClient({ dataDir: home })
      const all = new Set<string>()
      for await (const p of client.allPins({}, 333)) all.add(String(p.requestid))
      assert.equal(all.size, 2500)
      // and so does the CLI, streaming one JSON object per pin
      const listed = await run(['--json', 'pin', 'list', '--all', '--limit', '400'], { home })
      assert.equal(listed.code, 0, listed.stderr)
      const lines = listed.stdout.toString().trim().split('\n')
      assert.equal(new Set(lines.map((l) => JSON.parse(l).requestid)).size, 2500)
      assert.equal(lines.length, 2500)
      const page = await run(['pin', 'list', '--limit', '5'], { home })
      assert.equal(page.code, 0, page.stderr)
      assert.equal(page.stdout.toString().trim().split('\n').length, 6, 'a header and five pins')
      assert.match(page.stderr, /5 of 2500 pins; the next page: ipfs-kit pin list --before \S+/)
      const bad = await d.call('/pins?before=not-a-cid-or-time')
      assert.equal(bad.status, 400)
      const tooMany = await d.call('/pins?limit=1001')
      assert.equal(tooMany.status, 400)
      // status counts without a scan, and a page of per-pin replication state
      const status = await json(d.call('/status'))
      assert.deepEqual(status.pins, { queued: 0, pinned: 2500, failed: 0 })
      let repl = await json(d.call('/replication/status?limit=50'))
      assert.equal(repl.totals.pins, 2500)
      // totals follow the backends' health: on a loaded machine a probe may flip local for a moment
      for (let i = 0; i < 100 && (repl.totals_stale || repl.totals.ok !== 2500); i++) {
        await new Promise((r) => setTimeout(r, 200))
        repl = await json(d.call('/replication/status?limit=50'))
      }
      assert.equal(repl.totals.ok, 2500, JSON.stringify(repl.totals))
      assert.deepEqual(repl.replicas, [{ backend: 'local', state: 'verified', n: 2500 }])
      assert.equal(repl.pins.length, 50)
      const next = await json(d.call(`/replication/status?limit=50&after=${repl.next}`))
      assert.ok(next.pins[0].cid > repl.pins.at(-1).cid)
    } finally {
      await d.stop()
    }
  })

  it('refuses an event stream past max_sse_clients with 503 and says which key to raise', async () => {
    const home = join(tmp.dir, 'sse-cap')
    writeConfig(home, { port: 0, max_sse_clients: 2 })
    const d = await startDaemon(home)
    const streams: AbortController[] = []
    const open = async () => {
      const abort = new AbortController()
      streams.push(abort)
      return fetch(`${d.url}/events`, { signal: abort.signal })
    }
    try {
      assert.equal((await open()).status, 200)
      assert.equal((await open()).status, 200)
      const refused = await open()
      assert.equal(refused.status, 503)
      const body = await json(refused)
      assert.equal(body.error.code, 'ERR_TOO_MANY_CLIENTS')
      assert.match(body.error.message, /2 event streams are open \(max_sse_clients = 2\)/)
      streams[0]!.abort()
      let again: Response | undefined
      for (let i = 0; i < 50; i++) {
        again = await open()
        if (again.status === 200) break
        await new Promise((r) => setTimeout(r, 20))
      }
      assert.equal(again?.status, 200, 'a closed stream frees its place')
    } finally {
      for (const s of streams) s.abort()
      await d.stop()
    }
  })
})
