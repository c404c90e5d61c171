import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import autocannon from 'autocannon'
import Database from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { PackIndex } from '../src/blockstore/pack-index.ts'
import { openStateDb } from '../src/state/db.ts'
import { PinStore } from '../src/state/pins.ts'
import { ReplicaStore } from '../src/state/replicas.ts'
import { table } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname

function rawCid(seed: string): string {
  return CID.createV1(
    raw.code,
    Digest.create(sha256.code, createHash('sha256').update(seed).digest()),
  ).toString()
}

/**
 * Seeds `pins` pins (one verified `local` replica each; ten pins per millisecond of creation time,
 * so paging meets ties) into state.db and `blocks` rows into blocks/index.db, straight into SQLite
 * in one transaction each. The block rows point into a pack that does not exist: they are counted,
 * never read. Returns a few CIDs of the seeded pins.
 */
export function seedScale(home: string, pins: number, blocks: number): { cids: string[]; seconds: number } {
  const started = performance.now()
  mkdirSync(join(home, 'blocks'), { recursive: true })
  const db = openStateDb(join(home, 'state.db'))
  const pin = db.prepare(
    'INSERT INTO pins (cid, type, name, status, size, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const rep = db.prepare(
    'INSERT INTO replicas (cid, backend, state, verified_at, updated_at) VALUES (?, ?, ?, ?, ?)',
  )
  const cids: string[] = []
  const base = Date.now() - pins
  db.transaction(() => {
    for (let i = 0; i < pins; i++) {
      const cid = rawCid(`scale pin ${i}`)
      if (i % Math.max(1, Math.floor(pins / 16)) === 0) cids.push(cid)
      const at = base + Math.floor(i / 10)
      pin.run(cid, 'recursive', `pin-${i}`, 'pinned', 1000 + i, at, at)
      rep.run(cid, 'local', 'verified', at, at)
    }
  })()
  db.close()
  // the schema (and its running totals) as the blockstore makes it, then rows in key order
  const indexPath = join(home, 'blocks', 'index.db')
  new PackIndex(indexPath).close()
  const idx = new Database(indexPath)
  idx.pragma('journal_mode = WAL')
  idx.pragma('synchronous = OFF')
  const insert = idx.prepare('INSERT INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)')
  idx.transaction(() => {
    const mh = Buffer.alloc(34)
    mh[0] = 0x12
    mh[1] = 0x20
    for (let i = 0; i < blocks; i++) {
      mh.writeUInt32BE(Math.floor(i / 2 ** 32), 2)
      mh.writeUInt32BE(i >>> 0, 6)
      insert.run(mh, Buffer.concat([Buffer.from([0x01, 0x55]), mh]), 1, i * 1024, 1024)
    }
  })()
  idx.close()
  return { cids, seconds: (performance.now() - started) / 1000 }
}

/**
 * The SQL work of each bounded route, in this process, with no daemon around it: what a request
 * costs when no replication pass competes for the same thread.
 */
export function queryCosts(home: string, cursorCid: string): (string | number)[][] {
  const db = openStateDb(join(home, 'state.db'))
  const pins = new PinStore(db)
  const replicas = new ReplicaStore(db)
  const index = new PackIndex(join(home, 'blocks', 'index.db'))
  const at = pins.get(cursorCid)!.createdAt
  const cases: [string, () => unknown][] = [
    [
      'a page of 100 pins, their replicas, the count',
      () => {
        const page = pins.page({}, 100)
        replicas.ofMany(page.map((p) => p.cid))
        return pins.count({})
      },
    ],
    [
      'the same half way down, without its count',
      () => {
        const q = { before: { at, cid: cursorCid } }
        const page = pins.page(q, 100)
        return replicas.ofMany(page.map((p) => p.cid))
      },
    ],
    [
      'the count of the pins after a cursor half way (walked in slices, yielding between them)',
      () => pins.count({ before: { at, cid: cursorCid } }),
    ],
    ['pins by status + blocks and bytes (/status)', () => [pins.counts(), index.totals()]],
    ['replicas by backend and state', () => replicas.summary()],
    ['health totals, one slice of 2000 pins', () => replicas.healthSlice('', 2000, ['local'], 1, 3)],
  ]
  const rows = cases.map(([label, fn]) => {
    fn()
    const times: number[] = []
    for (let i = 0; i < 20; i++) {
      const t = performance.now()
      fn()
      times.push(performance.now() - t)
    }
    return [label, `median ${median(times).toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms`]
  })
  const t = performance.now()
  let from: string | null = ''
  while (from != null) from = replicas.healthSlice(from, 2000, ['local'], 1, 3).last
  rows.push([
    'health totals, every slice (the daemon yields between them)',
    `${(performance.now() - t).toFixed(0)} ms in all`,
  ])
  index.close()
  db.close()
  return rows
}

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0)
  return kb / 1024
}

async function timed(url: string): Promise<number> {
  const t = performance.now()
  const res = await fetch(url)
  await res.arrayBuffer()
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return performance.now() - t
}

/** Polls /health every `everyMs` until `until` resolves; the slowest answer and how many failed. */
async function healthDuring(url: string, until: Promise<unknown>, everyMs = 10) {
  let done = false
  void until.finally(() => {
    done = true
  })
  let max = 0
  let n = 0
  while (!done) {
    max = Math.max(max, await timed(`${url}/health`))
    n++
    await new Promise((r) => setTimeout(r, everyMs))
  }
  return { max, n }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Starts the daemon and measures start-up: when /health first answers, then its slowest answer for `watchMs`. */
async function startWatched(home: string, watchMs: number) {
  const started = performance.now()
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, '--data-dir', home, 'daemon', 'start', '--foreground', '--port', '0'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  let url = ''
  for (;;) {
    if (child.exitCode != null) throw new Error(`the daemon exited with ${child.exitCode}`)
    try {
      url = readFileSync(join(home, 'api'), 'utf8').trim()
      if (url !== '') break
    } catch {}
    await new Promise((r) => setTimeout(r, 10))
  }
  const firstAnswerMs = performance.now() - started + (await timed(`${url}/health`))
  const watch = await healthDuring(url, new Promise((r) => setTimeout(r, watchMs)))
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  const stop = () =>
    new Promise<void>((r) => {
      child.once('exit', () => r())
      child.kill('SIGTERM')
    })
  return { url, token, pid: child.pid!, firstAnswerMs, startupMaxMs: watch.max, stop }
}

/**
 * Issue 12, row 9: a daemon holding `pins` pins and `blocks` block rows. Latency of the bounded
 * GET routes, /health during start-up and during a pin add, peak RSS, and RSS under 100 concurrent
 * requests to every GET route.
 */
export async function scaleBench(dir: string, pins: number, blocks: number): Promise<string> {
  const home = join(dir, `scale-${pins}`)
  rmSync(home, { recursive: true, force: true })
  const seed = seedScale(home, pins, blocks)
  const costs = queryCosts(home, seed.cids[Math.floor(seed.cids.length / 2)]!)
  const d = await startWatched(home, 20_000)
  const rows: (string | number)[][] = []
  const concurrent: (string | number)[][] = []
  try {
    rows.push(['seed (SQLite, one transaction each)', `${seed.seconds.toFixed(1)} s`, ''])
    rows.push(['daemon start to first /health answer', `${d.firstAnswerMs.toFixed(0)} ms`, ''])
    rows.push(['slowest /health in the 20 s after start', `${d.startupMaxMs.toFixed(1)} ms`, '<= 100 ms'])
    const mid = seed.cids[Math.floor(seed.cids.length / 2)]!
    const routes: [string, string][] = [
      ['GET /pins?limit=100', '/pins?limit=100'],
      ['GET /pins?limit=100&before=<a CID half way>', `/pins?limit=100&before=${mid}`],
      ['GET /pins?limit=100&status=pinned', '/pins?limit=100&status=pinned'],
      ['GET /status', '/status'],
      ['GET /replication/status', '/replication/status'],
      ['GET /metrics', '/metrics'],
    ]
    for (const [label, path] of routes) {
      const first = await timed(`${d.url}${path}`)
      const times: number[] = []
      for (let i = 0; i < 20; i++) times.push(await timed(`${d.url}${path}`))
      rows.push([
        label,
        `median ${median(times).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms (first ${first.toFixed(0)} ms)`,
        label.startsWith('GET /metrics') || label.includes('before') || label.includes('status=')
          ? ''
          : '<= 10 ms',
      ])
    }
    // /health while a pin is added (and the pass it nudges runs)
    const added = rawCid(`scale extra pin ${Date.now()}`)
    const add = fetch(`${d.url}/pins`, {
      method: 'POST',
      headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ cid: added }),
    }).then(() => new Promise((r) => setTimeout(r, 10_000)))
    const during = await healthDuring(d.url, add)
    rows.push(['slowest /health in the 10 s after a pin add', `${during.max.toFixed(1)} ms`, '<= 100 ms'])
    // 100 connections on every GET route, RSS sampled meanwhile
    const getRoutes = [
      '/health',
      '/status',
      '/pins?limit=1000',
      `/pins/${mid}`,
      '/replication/status?limit=1000',
      '/backends',
      '/backends/health',
      '/backends/local/health/history',
      '/logs/daemon?lines=10000',
      '/config',
      '/metrics',
    ]
    for (const path of getRoutes) {
      let peak = 0
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(d.pid, 'VmRSS'))
      }, 50)
      const r = await autocannon({ url: `${d.url}${path}`, connections: 100, duration: 3 })
      clearInterval(sampler)
      concurrent.push([
        `GET ${path.length > 40 ? `${path.slice(0, 37)}...` : path}`,
        r.requests.average.toFixed(0),
        `${r.latency.p99} ms`,
        r.non2xx + r.errors,
        `${peak.toFixed(0)} MiB`,
      ])
    }
    rows.push([
      'daemon peak RSS (VmHWM) over the whole run',
      `${rssMiB(d.pid, 'VmHWM').toFixed(0)} MiB`,
      '<= 256 MiB',
    ])
  } finally {
    await d.stop()
  }
  rmSync(home, { recursive: true, force: true })
  return [
    `#### A daemon with ${pins.toLocaleString('en')} pins and ${blocks.toLocaleString('en')} block rows`,
    '',
    table(['measure', 'value', 'goal'], rows),
    '',
    table(['SQL work of a route, in process, no daemon', 'time'], costs),
    '',
    table(['100 connections, 3 s', 'requests/s', 'p99', 'non-2xx + errors', 'daemon RSS peak'], concurrent),
  ].join('\n')
}

// `node --import tsx bench/scale.ts [pins] [blocks]`: this section alone
if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.env.BENCH_DIR ?? '/tmp'
  const pins = Number(process.argv[2] ?? 1_000_000)
  const blocks = Number(process.argv[3] ?? 10_000_000)
  if (process.env.BENCH_SCALE_HOME != null) {
    // an already seeded data directory: the in-process query costs only
    const home = process.env.BENCH_SCALE_HOME
    const cid = new PinStore(openStateDb(join(home, 'state.db'))).page({}, Math.floor(pins / 2)).at(-1)!.cid
    console.log(table(['SQL work of a route, in process, no daemon', 'time'], queryCosts(home, cid)))
  } else console.log(await scaleBench(dir, pins, blocks))
  console.log(`\nload average: ${readFileSync('/proc/loadavg', 'utf8').trim()}`)
}
