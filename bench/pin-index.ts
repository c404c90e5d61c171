// Publishing the pin index for a million pins: `node --import tsx bench/pin-index.ts [pins]`.
// Two shapes: every pin on two backends (2 rows per pin), and on one (1 row per pin). Each publish
// runs three times (median reported); meanwhile the main thread keeps a 1 ms timer running, and
// its largest gap is what an API request would have waited, had publishing blocked the event loop.
// Run from source, the times include starting two worker threads through tsx (about 0.1-0.3 s).
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { publishPinIndex } from '../src/pin-index/publish.ts'
import { openStateDb } from '../src/state/db.ts'
import { machine, table } from './lib.ts'

const PINS = Number(process.argv[2] ?? 1_000_000)
const RUNS = 3

/** Fills `<dir>/state.db` with `pins` pins, each with `replicas` replicas, in one transaction. */
function fill(dir: string, pins: number, replicas: number): number {
  const started = performance.now()
  const db = openStateDb(join(dir, 'state.db'))
  // a bench database need not survive a power cut, and a big cache keeps the fill from spilling
  db.pragma('synchronous = OFF')
  db.pragma('cache_size = -1048576')
  const now = Date.now()
  const pin = db.prepare(
    'INSERT INTO pins (cid, type, name, status, size, min_replicas, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  )
  const rep = db.prepare(
    'INSERT INTO replicas (cid, backend, state, verified_at, updated_at) VALUES (?, ?, ?, ?, ?)',
  )
  const backends = ['local', 'nas', 's3'].slice(0, replicas)
  db.transaction(() => {
    for (let i = 0; i < pins; i++) {
      const digest = Digest.create(sha256.code, createHash('sha256').update(`pin ${i}`).digest())
      const cid = CID.createV1(raw.code, digest).toString()
      pin.run(cid, 'recursive', `pin-${i}`, 'pinned', 1000 + i, i % 5 === 0 ? 2 : null, now, now)
      for (const b of backends) {
        const verified = b === 'local' || i % 3 !== 0
        rep.run(cid, b, verified ? 'verified' : 'copying', verified ? now : null, now)
      }
    }
  })()
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  return (performance.now() - started) / 1000
}

interface Measure {
  rows: number
  /** End to end, as the caller waits: starting both threads, reading, writing, fsync, rename. */
  seconds: number[]
  /** Inside the writer thread only. */
  workerSeconds: number[]
  bytes: number
  loopMaxMs: number
  timerGapMs: number
}

/** Publishes RUNS times while watching the main thread's event loop. */
async function measure(dir: string): Promise<Measure> {
  const hist = monitorEventLoopDelay({ resolution: 1 })
  let last = performance.now()
  let gap = 0
  const tick = setInterval(() => {
    const now = performance.now()
    gap = Math.max(gap, now - last)
    last = now
  }, 1)
  const seconds: number[] = []
  const workerSeconds: number[] = []
  let rows = 0
  let bytes = 0
  hist.enable()
  try {
    for (let i = 0; i < RUNS; i++) {
      const started = performance.now()
      const r = await publishPinIndex(dir)
      seconds.push((performance.now() - started) / 1000)
      workerSeconds.push(r.ms / 1000)
      rows = r.rows
      bytes = statSync(r.path).size
    }
  } finally {
    hist.disable()
    clearInterval(tick)
  }
  return { rows, seconds, workerSeconds, bytes, loopMaxMs: hist.max / 1e6, timerGapMs: gap }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const loadBefore = loadavg()[0]!
const results: (string | number)[][] = []
for (const replicas of [2, 1]) {
  const dir = mkdtempSync(join(tmpdir(), 'ipfs-kit-bench-index-'))
  try {
    const fillSeconds = fill(dir, PINS, replicas)
    const dbBytes = statSync(join(dir, 'state.db')).size
    const m = await measure(dir)
    results.push([
      PINS.toLocaleString('en'),
      `${replicas} (${m.rows.toLocaleString('en')} rows)`,
      `${fillSeconds.toFixed(1)} s, ${(dbBytes / 2 ** 20).toFixed(0)} MiB`,
      `**${median(m.seconds).toFixed(2)} s** (${m.seconds.map((x) => x.toFixed(2)).join(', ')})`,
      `${median(m.workerSeconds).toFixed(2)} s`,
      `${(m.bytes / 2 ** 20).toFixed(1)} MiB`,
      `${m.loopMaxMs.toFixed(1)} ms`,
      `${m.timerGapMs.toFixed(1)} ms`,
    ])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
console.log('#### Publishing the pin index (goal: under 5 s for 1M pins, without blocking the API)\n')
console.log(
  `Machine: ${machine()}; load average ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after\n`,
)
console.log(
  table(
    [
      'pins',
      'replicas per pin',
      'fill state.db',
      `publish, median of ${RUNS} (runs)`,
      'in the writer thread',
      'pins.parquet',
      'max event-loop delay',
      'max gap of a 1 ms timer',
    ],
    results,
  ),
)
