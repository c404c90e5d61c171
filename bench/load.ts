// Load: 100 concurrent clients for BENCH_LOAD_SECONDS (60) against a real daemon and server on
// loopback, mixing pin adds, status reads, gateway reads, the server's API and MCP tool calls; errors
// (goal 0), p50/p99 per route, and the daemon's and the server's RSS and open file descriptors
// sampled every second (they should stay flat). Run alone or from bench/run.ts:
//   BENCH_ONLY=load npm run bench                       # or: node --import tsx bench/load.ts
//   BENCH_LOAD_SECONDS=86400 BENCH_ONLY=load npm run bench   # the 24-hour soak (not run in CI)
// BENCH_LOAD_CLIENTS (100); BENCH_LOAD_ROUTES='GET /health,POST /pins' keeps only those routes
// (prefixes of the names in the report).
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import {
  BIN,
  cli,
  type DaemonProcess,
  markdownTable,
  percentile,
  sleep,
  spawnDaemon,
  writeDaemonConfig,
} from '../scripts/harness.ts'

/** One kind of request in the mix; `weight` is its share. */
export interface LoadRoute {
  name: string
  weight: number
  /** An HTTP answer (its body is read), or the outcome of a call that is not one request (MCP). */
  request: (i: number) => Promise<Response | { ok: boolean; status: number }>
}

/** Latencies kept per route: a uniform sample (reservoir) so a 24-hour soak stays in bounded memory. */
class Reservoir {
  readonly values: number[] = []
  count = 0
  errors = 0
  readonly errorKinds = new Map<string, number>()
  constructor(private readonly size = 100_000) {}
  add(ms: number): void {
    this.count++
    if (this.values.length < this.size) this.values.push(ms)
    else {
      const j = Math.floor(Math.random() * this.count)
      if (j < this.size) this.values[j] = ms
    }
  }
  error(kind: string): void {
    this.errors++
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1)
  }
}

interface Sample {
  t: number
  rssMiB: number
  fds: number
}

/** The daemon's resident memory and open descriptors, from /proc. */
function sampleProcess(pid: number, t: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return { t, rssMiB: rssKiB / 1024, fds: readdirSync(`/proc/${pid}/fd`).length }
}

/** The daemon's routes in the mix: pin adds (each a new CID) and the status reads a dashboard polls. */
export function daemonRoutes(daemon: DaemonProcess, cids: string[]): LoadRoute[] {
  return [
    {
      name: 'POST /pins',
      weight: 20,
      request: (i) => daemon.call('/pins', { method: 'POST', json: { cid: cids[i % cids.length] } }),
    },
    { name: 'GET /health', weight: 25, request: () => daemon.call('/health', { auth: false }) },
    { name: 'GET /status', weight: 20, request: () => daemon.call('/status', { auth: false }) },
    { name: 'GET /pins?limit=10', weight: 20, request: () => daemon.call('/pins?limit=10', { auth: false }) },
    {
      name: 'GET /replication/status',
      weight: 15,
      request: () => daemon.call('/replication/status?limit=10', { auth: false }),
    },
  ]
}

/**
 * The server's routes in the mix: gateway reads, its health and pin list (which goes on to the
 * daemon), VFS reads, and MCP tool calls (`content_stat`, `vfs_stat`) over a pool of Streamable HTTP
 * sessions, as agents would hold them.
 */
export function serverRoutes(server: ServerProcess, cids: string[], mcp: Client[]): LoadRoute[] {
  const get = (path: string) => fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(30_000) })
  const tool = async (i: number, name: string, args: Record<string, unknown>) => {
    const r = await mcp[i % mcp.length]!.callTool({ name, arguments: args }, undefined, { timeout: 30_000 })
    return { ok: r.isError !== true, status: r.isError === true ? 500 : 200 }
  }
  return [
    { name: 'GET /ipfs/<cid> (server)', weight: 20, request: (i) => get(`/ipfs/${cids[i % cids.length]}`) },
    { name: 'GET /api/health (server)', weight: 5, request: () => get('/api/health') },
    { name: 'GET /api/pins?limit=10 (server)', weight: 5, request: () => get('/api/pins?limit=10') },
    { name: 'GET /api/vfs/ls (server)', weight: 5, request: () => get('/api/vfs/ls?path=/') },
    {
      name: 'MCP content_stat (server)',
      weight: 10,
      request: (i) => tool(i, 'content_stat', { path: cids[i % cids.length] }),
    },
    { name: 'MCP vfs_stat (server)', weight: 5, request: (i) => tool(i, 'vfs_stat', { path: '/' }) },
  ]
}

/** `ipfs-kit server start --foreground` on the daemon's data directory. */
interface ServerProcess {
  url: string
  pid: number
  stop(): Promise<number | null>
}

async function spawnServer(home: string): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [BIN, '--data-dir', home, 'server', 'start', '--foreground', '--port', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    const m = /server listening at (http:\/\/\S+)/.exec(stderr)
    if (m != null) {
      return {
        url: m[1]!,
        pid: child.pid!,
        async stop() {
          if (child.exitCode != null) return child.exitCode
          child.kill('SIGTERM')
          return await new Promise((r) => child.once('exit', (code) => r(code)))
        },
      }
    }
    if (child.exitCode != null || Date.now() > deadline)
      throw new Error(`the server did not start: ${stderr}`)
    await sleep(50)
  }
}

/** A pool of MCP sessions over Streamable HTTP. */
async function mcpPool(server: ServerProcess, home: string, size: number): Promise<Client[]> {
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  return await Promise.all(
    Array.from({ length: size }, async () => {
      const client = new Client({ name: 'load', version: '1' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      )
      return client
    }),
  )
}

/** The route whose share of the total weight `at` falls in. */
function pickRoute(routes: LoadRoute[], at: number): LoadRoute {
  let left = at
  for (const route of routes) {
    left -= route.weight
    if (left < 0) return route
  }
  return routes[routes.length - 1]!
}

export interface LoadResult {
  seconds: number
  clients: number
  requests: number
  errors: number
  table: string
  samples: Sample[]
  serverSamples: Sample[]
}

/** Runs the load against a fresh daemon in `dir`; returns the Markdown report. */
export async function loadBench(
  dir: string,
  seconds: number,
  clients = Number(process.env.BENCH_LOAD_CLIENTS ?? 100),
): Promise<string> {
  const r = await runLoad(dir, seconds, clients)
  return [
    '### Load (bench/load.ts)',
    '',
    `${r.clients} concurrent clients for ${r.seconds} s on loopback against one daemon (one filesystem backend, policy min 2) and one server on the same data directory: ${r.requests} requests, **${r.errors} errors**.`,
    '',
    r.table,
  ].join('\n')
}

export async function runLoad(dir: string, seconds: number, clients: number): Promise<LoadResult> {
  const root = mkdtempSync(join(dir, 'load-'))
  const home = join(root, 'data')
  const fs1 = join(root, 'fs1')
  mkdirSync(fs1, { recursive: true })
  writeDaemonConfig(home, {
    backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
    replication: { min_replicas: 2, max_replicas: 2, preferred: [], excluded: [] },
  })
  // content to pin: small files, stored but not yet pinned (each pin add is a new pin, then replicated)
  const files = join(root, 'files')
  mkdirSync(files)
  for (let i = 0; i < 5000; i++) writeFileSync(join(files, `f${i}`), `load ${i} ${Math.random()}`)
  const added = await cli(home, ['ipfs', 'add', '-r', '-q', '--pin=false', files], { timeoutMs: 300_000 })
  if (added.code !== 0) throw new Error(`ipfs add failed: ${added.stderr}`)
  const cids = added.stdout.trim().split('\n').slice(0, -1)
  const daemon = await spawnDaemon(home)
  const server = await spawnServer(home)
  const mcp = await mcpPool(server, home, 10)
  try {
    const only = process.env.BENCH_LOAD_ROUTES?.split(',')
    const routes = [...daemonRoutes(daemon, cids), ...serverRoutes(server, cids, mcp)].filter(
      (x) => only == null || only.some((o) => x.name.startsWith(o)),
    )
    const totalWeight = routes.reduce((s, x) => s + x.weight, 0)
    const stats = new Map(routes.map((x) => [x.name, new Reservoir()]))
    const samples: Sample[] = [sampleProcess(daemon.pid, 0)]
    const serverSamples: Sample[] = [sampleProcess(server.pid, 0)]
    // the daemon's own event-loop delay (prom-client resets it at each scrape): the most per second
    const loopMaxMs: number[] = []
    const started = performance.now()
    const sampler = setInterval(() => {
      samples.push(sampleProcess(daemon.pid, Math.round((performance.now() - started) / 1000)))
      serverSamples.push(sampleProcess(server.pid, Math.round((performance.now() - started) / 1000)))
      daemon
        .call('/metrics', { auth: false, timeoutMs: 5000 })
        .then((res) => res.text())
        .then((text) => {
          const m = /^ipfs_kit_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)
          if (m != null) loopMaxMs.push(Number(m[1]) * 1000)
        })
        .catch(() => {})
    }, 1000)
    const end = started + seconds * 1000
    let seq = 0
    const client = async () => {
      while (performance.now() < end) {
        const route = pickRoute(routes, Math.random() * totalWeight)
        const s = stats.get(route.name)!
        const t0 = performance.now()
        try {
          const res = await route.request(seq++)
          if (res instanceof Response) await res.arrayBuffer()
          if (res.ok) s.add(performance.now() - t0)
          else s.error(`HTTP ${res.status}`)
        } catch (err) {
          s.error((err as Error).name)
          // when it started says whether errors cluster (a stall) or spread (a steady rate)
          console.error(
            `${route.name}: ${(err as Error).name} (started ${((t0 - started) / 1000).toFixed(1)} s in)`,
          )
        }
      }
    }
    await Promise.all(Array.from({ length: clients }, client))
    clearInterval(sampler)
    samples.push(sampleProcess(daemon.pid, seconds))
    serverSamples.push(sampleProcess(server.pid, seconds))
    const elapsed = (performance.now() - started) / 1000
    const rows = [...stats].map(([name, s]) => [
      name,
      s.count + s.errors,
      (s.count / elapsed).toFixed(0),
      s.errors === 0
        ? '0'
        : `**${s.errors}** (${[...s.errorKinds].map(([k, n]) => `${k}: ${n}`).join(', ')})`,
      `${percentile(s.values, 50).toFixed(1)} ms`,
      `${percentile(s.values, 99).toFixed(1)} ms`,
      `${Math.max(...s.values).toFixed(0)} ms`,
    ])
    const table = [
      markdownTable(['route', 'requests', 'req/s', 'errors', 'p50', 'p99', 'max'], rows),
      '',
      resourceTable(samples, 'daemon'),
      '',
      resourceTable(serverSamples, 'server'),
      '',
      `Daemon event-loop delay, the most in each second (from /metrics): p50 ${percentile(loopMaxMs, 50).toFixed(0)} ms, p99 ${percentile(loopMaxMs, 99).toFixed(0)} ms, max ${Math.max(...loopMaxMs).toFixed(0)} ms over ${loopMaxMs.length} seconds.`,
    ].join('\n')
    const requests = [...stats.values()].reduce((n, s) => n + s.count + s.errors, 0)
    const errors = [...stats.values()].reduce((n, s) => n + s.errors, 0)
    await Promise.all(mcp.map((c) => c.close()))
    if ((await server.stop()) !== 0) throw new Error('the server did not stop cleanly')
    if ((await daemon.stop()) !== 0) throw new Error(`the daemon did not stop cleanly: ${daemon.stderr()}`)
    return { seconds, clients, requests, errors, table, samples, serverSamples }
  } finally {
    await server.stop()
    await daemon.kill9()
    rmSync(root, { recursive: true, force: true })
  }
}

/** RSS and descriptors: at start, after the first tenth (warm), the most, at the end. */
function resourceTable(samples: Sample[], who: string): string {
  const warm = samples[Math.max(1, Math.floor(samples.length / 10))] ?? samples[0]!
  const last = samples[samples.length - 1]!
  const max = (f: (s: Sample) => number) => Math.max(...samples.map(f))
  return markdownTable(
    [`${who} (sampled every second)`, 'start', 'warm (first tenth)', 'max', 'end', 'end - warm'],
    [
      [
        'RSS (MiB)',
        samples[0]!.rssMiB.toFixed(0),
        warm.rssMiB.toFixed(0),
        max((s) => s.rssMiB).toFixed(0),
        last.rssMiB.toFixed(0),
        (last.rssMiB - warm.rssMiB).toFixed(0),
      ],
      ['open fds', samples[0]!.fds, warm.fds, max((s) => s.fds), last.fds, last.fds - warm.fds],
    ],
  )
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? 60)
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ipfs-kit-bench-'))
  loadBench(dir, seconds)
    .then((report) => console.log(report))
    .finally(() => rmSync(dir, { recursive: true, force: true }))
}
