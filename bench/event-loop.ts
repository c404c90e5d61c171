import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'
import { z } from 'zod'
import { registerBackendType } from '../src/backends/registry.ts'
import type { Backend, HealthReport } from '../src/backends/types.ts'
import { loadConfig } from '../src/config/config.ts'
import { Daemon } from '../src/daemon/daemon.ts'
import { writeRandom } from './content.ts'
import { fmt, table } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname

/** A backend whose health probe never answers (a hung NFS mount): registered for this bench only. */
class HungBackend implements Backend {
  readonly type = 'bench-hung'
  readonly name: string
  constructor(name: string) {
    this.name = name
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  health(): Promise<HealthReport> {
    return new Promise(() => {})
  }
  async has(): Promise<boolean> {
    return false
  }
  async put(): Promise<void> {}
  async *get(): AsyncIterable<Uint8Array> {}
  async verify() {
    return { ok: false, blocks: 0, bytes: 0 }
  }
  async unpin(): Promise<void> {}
  async stat() {
    return { usedBytes: 0, pins: 0 }
  }
}

function delays(h: IntervalHistogram): string[] {
  const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`
  return [ms(h.percentile(50)), ms(h.percentile(99)), ms(h.max)]
}

/**
 * Issue 12, item 4: the daemon's event-loop delay (`monitorEventLoopDelay`, sampled inside the daemon,
 * which runs in this process) while it verifies a pin of `sizeMb` MiB on `local` and on a filesystem
 * backend, with a backend whose probe never returns probed every second beside it.
 */
export async function eventLoopBench(dir: string, sizeMb: number): Promise<string> {
  const out: string[] = ['### Event loop of the daemon (issue 12, item 4)', '']
  const home = join(dir, 'loop')
  const nas = join(dir, 'loop-nas')
  mkdirSync(home, { recursive: true })
  mkdirSync(nas, { recursive: true })
  registerBackendType('bench-hung', {
    options: z.object({ name: z.string(), type: z.literal('bench-hung') }),
    create: (o) => new HungBackend(o.name),
  })
  const file = join(dir, 'loop.bin')
  writeRandom(file, sizeMb * 2 ** 20, 'event-loop')
  execFileSync(process.execPath, [BIN, 'ipfs', 'add', '-Q', file], {
    env: { ...process.env, IPFS_KIT_HOME: home },
  })
  const config = {
    ...loadConfig(home),
    data_dir: home,
    health_check_interval: 1,
    replication_sync_interval: 3600,
    node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 30_000 },
    backends: [
      { name: 'nas', type: 'filesystem', path: nas },
      { name: 'hung', type: 'bench-hung' },
    ],
    replication: { min_replicas: 2, max_replicas: 2, preferred: ['nas'], excluded: [] },
  }
  const startedAt = performance.now()
  const daemon = await Daemon.start(config)
  const startS = (performance.now() - startedAt) / 1000
  try {
    const copy = await daemon.reconciler.sync()
    if (copy.failed > 0) throw new Error(`the copy to nas failed: ${JSON.stringify(copy)}`)
    const rows: string[][] = []
    const idle = monitorEventLoopDelay({ resolution: 1 })
    idle.enable()
    await new Promise((r) => setTimeout(r, 12_000)) // > one probe deadline (10 s) of the hung backend
    idle.disable()
    rows.push(['idle, hung probe every 1 s (12 s)', '-', ...delays(idle)])
    const busy = monitorEventLoopDelay({ resolution: 1 })
    busy.enable()
    const t = performance.now()
    const report = await daemon.reconciler.sync({ verify: true })
    const s = (performance.now() - t) / 1000
    busy.disable()
    if (report.verified < 2 || report.failed > 0) throw new Error(`verify failed: ${JSON.stringify(report)}`)
    rows.push([`verify ${sizeMb} MiB on local + nas, hung probe beside it`, fmt(s), ...delays(busy)])
    const hung = daemon.supervisor.view('hung').health
    out.push(
      table(['while the daemon runs', 'time', 'loop delay p50', 'p99', 'max'], rows),
      '',
      `- goal: p99 <= 20 ms, max <= 100 ms. \`monitorEventLoopDelay\` (1 ms resolution) inside the daemon; the daemon started in ${fmt(startS)} with the hung backend (one probe deadline: 10 s); the hung backend reads \`${hung?.status}: ${hung?.error}\``,
    )
  } finally {
    await daemon.close()
  }
  return out.join('\n')
}
