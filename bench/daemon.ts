import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { RouteReader } from '../src/client/route-reader.ts'
import { PinIndexPublisher } from '../src/pin-index/publish.ts'
import { openStateDb } from '../src/state/db.ts'
import { fmt, sample, table, timeCommand } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname
/** The command as npm installs it (a shell script that runs BIN with the `node` on PATH). */
const COMMAND = new URL('../bin/ipfs-kit', import.meta.url).pathname
/** ...with this Node first on PATH. */
const COMMAND_ENV = { PATH: `${dirname(process.execPath)}:${process.env.PATH}` }

async function load(url: string, seconds: number): Promise<{ rps: number; p99: number }> {
  const r = await autocannon({ url, connections: 10, duration: seconds })
  return { rps: r.requests.average, p99: r.latency.p99 }
}

/** A bare node:http server answering /health with the same JSON, the floor for the daemon's /health. */
function bareServer(): Promise<{ url: string; stop: () => void }> {
  const code = `
    const http = require('node:http'); const started = Date.now()
    const s = http.createServer((req, res) => {
      const body = JSON.stringify({ status: 'ok', version: '0.1.0', uptime_s: (Date.now() - started) / 1000 })
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
    s.listen(0, '127.0.0.1', () => console.log(s.address().port))`
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve) => {
    child.stdout.once('data', (d: Buffer) =>
      resolve({ url: `http://127.0.0.1:${d.toString().trim()}`, stop: () => child.kill() }),
    )
  })
}

async function startDaemon(home: string): Promise<{ url: string; token: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [BIN, '--data-dir', home, 'daemon', 'start', '--foreground', '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  const apiFile = join(home, 'api')
  for (;;) {
    try {
      const url = readFileSync(apiFile, 'utf8').trim()
      if (url !== '') {
        const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
        return {
          url,
          token,
          stop: () =>
            new Promise((r) => {
              child.once('exit', () => r())
              child.kill('SIGTERM')
            }),
        }
      }
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Issue 3: /health against bare node:http, pins recorded per second, publishing a 1M-pin index. */
export async function daemonBench(dir: string, httpSeconds: number, pinsCount: number, indexPins: number) {
  const out: string[] = ['### Daemon', '']
  const bare = await bareServer()
  const home = join(dir, 'daemon')
  mkdirSync(home, { recursive: true })
  // content already stored, not yet pinned: one add of a directory of small files
  const files = join(dir, 'small')
  mkdirSync(files, { recursive: true })
  for (let i = 0; i < pinsCount; i++) writeFileSync(join(files, `f${i}`), `pin me ${i}`)
  const cids = execFileSync(process.execPath, [BIN, 'ipfs', 'add', '-r', '-q', '--pin=false', files], {
    env: { ...process.env, IPFS_KIT_HOME: home },
    maxBuffer: 64 << 20,
  })
    .toString()
    .trim()
    .split('\n')
    .slice(0, pinsCount)
  const d = await startDaemon(home)
  try {
    const baseline = await load(`${bare.url}/health`, httpSeconds)
    const ours = await load(`${d.url}/health`, httpSeconds)
    out.push(
      table(
        ['GET /health', 'requests/s', 'p99 latency'],
        [
          ['bare node:http (same JSON)', baseline.rps.toFixed(0), `${baseline.p99} ms`],
          ['ipfs-kit daemon (fastify, auth hook, Host check)', ours.rps.toFixed(0), `${ours.p99} ms`],
        ],
      ),
      '',
      `- ratio ${(ours.rps / baseline.rps).toFixed(2)} of bare node:http (goal >= 0.6); autocannon, 10 connections, ${httpSeconds} s each, client on the same 2 cores`,
    )
    const started = performance.now()
    let next = 0
    const worker = async () => {
      while (next < cids.length) {
        const cid = cids[next++]!
        const res = await fetch(`${d.url}/pins`, {
          method: 'POST',
          headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ cid }),
        })
        if (res.status !== 202) throw new Error(`POST /pins: ${res.status} ${await res.text()}`)
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    const seconds = (performance.now() - started) / 1000
    out.push(
      `- POST /pins of ${cids.length} stored CIDs, 16 concurrent: ${(cids.length / seconds).toFixed(0)} pins/s (${fmt(seconds)}; each durable in SQLite with synchronous=FULL)`,
    )
  } finally {
    await d.stop()
    bare.stop()
  }
  out.push('', await indexBench(dir, indexPins))
  return out.join('\n')
}

/** Publishing the pin index for `n` pins (one verified replica each), and reading it back. */
async function indexBench(dir: string, n: number): Promise<string> {
  const home = join(dir, 'index')
  mkdirSync(home, { recursive: true })
  const db = openStateDb(join(home, 'state.db'))
  const now = Date.now()
  const pin = db.prepare(
    'INSERT INTO pins (cid, type, name, status, size, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const rep = db.prepare(
    'INSERT INTO replicas (cid, backend, state, verified_at, updated_at) VALUES (?, ?, ?, ?, ?)',
  )
  const cids: string[] = []
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const cid = CID.createV1(
        raw.code,
        Digest.create(sha256.code, createHash('sha256').update(`pin ${i}`).digest()),
      ).toString()
      cids.push(cid)
      pin.run(cid, 'recursive', `pin-${i}`, 'pinned', 1000 + i, now, now)
      rep.run(cid, 'local', 'verified', now, now)
    }
  })()
  db.close()
  const delays = monitorEventLoopDelay({ resolution: 1 })
  const times: number[] = []
  let size = 0
  const context = {
    backends: [
      {
        name: 'local',
        type: 'local',
        state: 'running',
        usable: true,
        status: 'healthy',
        latencyMs: 0.2,
        freeBytes: 1e12,
        checkedAt: now,
      },
    ],
    policy: { min_replicas: 1 },
  }
  // as the daemon does: one publisher, its two worker threads kept between publishes
  const publisher = new PinIndexPublisher(home, {
    context: () => context,
    onPublished: (r) => {
      times.push(r.ms / 1000)
      size = statSync(r.path).size
    },
  })
  delays.enable()
  for (let i = 0; i < 4; i++) await publisher.flush()
  delays.disable()
  await publisher.close()
  const maxDelay = delays.max / 1e6
  const first = times.shift()!
  times.sort((a, b) => a - b)
  const pick = () => cids[Math.floor(Math.random() * cids.length)]!
  const cliInspect = sample(5, () =>
    timeCommand(`${COMMAND} --data-dir ${home} route inspect ${pick()} > /dev/null`, COMMAND_ENV),
  )
  const floor = sample(5, () => timeCommand(`${process.execPath} -e 0`))
  const version = sample(5, () => timeCommand(`${COMMAND} --version`, COMMAND_ENV))
  const reader = new RouteReader({ dataDir: home })
  await reader.inspect(pick())
  const lookups = 10_000
  // warm cache: CIDs from the first 16 row groups (the reader caches 64)
  const hot = [...cids].sort().slice(0, 16 * 4096)
  for (let i = 0; i < hot.length; i += 1000) await reader.inspect(hot[i]!)
  const started = performance.now()
  for (let i = 0; i < lookups; i++) await reader.inspect(hot[Math.floor(Math.random() * hot.length)]!)
  const perLookupUs = ((performance.now() - started) * 1000) / lookups
  const coldStarted = performance.now()
  const cold = new RouteReader({ dataDir: home })
  await cold.inspect(pick())
  const coldMs = performance.now() - coldStarted
  return [
    `#### Pin index (${n.toLocaleString('en')} pins, one replica each)`,
    '',
    table(
      ['measure', 'value'],
      [
        ['publish, first (worker threads starting)', fmt(first)],
        ['publish, steady state, median of 3', `${fmt(times[1]!)} (goal < 5 s)`],
        [
          'largest event-loop stall of the calling (API) thread during the 4 publishes',
          `${maxDelay.toFixed(1)} ms`,
        ],
        ['file size', `${(size / 2 ** 20).toFixed(1)} MiB`],
        ['`node -e 0` (floor)', fmt(floor.median)],
        [
          '`ipfs-kit --version`',
          `${fmt(version.median)} (${(version.median / floor.median).toFixed(2)}x the floor; goal <= 3x)`,
        ],
        ['`ipfs-kit route inspect <cid>` end to end', `${fmt(cliInspect.median)} (goal <= 0.4 s)`],
        ['RouteReader.inspect, cold (footer + one row group)', `${coldMs.toFixed(1)} ms`],
        ['RouteReader.inspect, warm cache', `${perLookupUs.toFixed(1)} µs per lookup`],
      ],
    ),
  ].join('\n')
}
