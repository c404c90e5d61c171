import type { Backend, HealthReport, HealthStatus } from '../backends/types.ts'
import { IpfsKitError } from '../errors.ts'
import type { StateDb } from '../state/db.ts'
import type { EventBus } from './events.ts'

export type RunState = 'running' | 'stopped' | 'failed'

export interface BackendView {
  name: string
  type: string
  state: RunState
  health: (HealthReport & { checkedAt: number }) | null
  error: string | null
}

/** A probe that takes longer than this counts as unhealthy. */
const PROBE_TIMEOUT_MS = 10_000
/** Health history rows kept per backend. */
const HISTORY_KEPT = 2_000

/**
 * Starts and stops backends, remembers which the user stopped (so a restart honours it), and runs
 * the health loop: one read-only probe per running backend per interval, a history row each, and an
 * event when a status changes. It never restarts anything on its own.
 */
export class Supervisor {
  private readonly backends = new Map<string, Backend>()
  private readonly views = new Map<string, BackendView>()
  private readonly db: StateDb
  private readonly events: EventBus
  private timer: NodeJS.Timeout | undefined
  private probing: Promise<void> | undefined
  /** Called after a probe round in which any status changed. */
  onHealthChange: () => void = () => {}

  constructor(db: StateDb, backends: Backend[], events: EventBus) {
    this.db = db
    this.events = events
    for (const b of backends) {
      this.backends.set(b.name, b)
      this.views.set(b.name, { name: b.name, type: b.type, state: 'stopped', health: null, error: null })
    }
  }

  /** Starts every backend the user has not stopped; a failure is recorded, not fatal. */
  async startAll(): Promise<void> {
    const stopped = new Set(
      (
        this.db.prepare("SELECT name FROM backend_state WHERE desired = 'stopped'").all() as {
          name: string
        }[]
      ).map((r) => r.name),
    )
    for (const name of this.backends.keys()) {
      if (!stopped.has(name)) await this.start(name, false).catch(() => {})
    }
  }

  get(name: string): Backend {
    const b = this.backends.get(name)
    if (b == null) {
      throw new IpfsKitError(
        'ERR_NOT_FOUND',
        `no backend named "${name}" (known: ${[...this.backends.keys()].join(', ')})`,
      )
    }
    return b
  }

  all(): Backend[] {
    return [...this.backends.values()]
  }

  list(): BackendView[] {
    return [...this.views.values()].map((v) => ({ ...v }))
  }

  view(name: string): BackendView {
    this.get(name)
    return { ...this.views.get(name)! }
  }

  /** Running and last probed healthy or degraded: its verified replicas count. */
  usable(name: string): boolean {
    const v = this.views.get(name)
    return (
      v != null &&
      v.state === 'running' &&
      (v.health?.status === 'healthy' || v.health?.status === 'degraded')
    )
  }

  async start(name: string, persist = true): Promise<BackendView> {
    const backend = this.get(name)
    const view = this.views.get(name)!
    if (persist) this.setDesired(name, 'running')
    if (view.state === 'running') return { ...view }
    try {
      await backend.start()
      view.state = 'running'
      view.error = null
    } catch (err) {
      view.state = 'failed'
      view.error = (err as Error).message
      this.events.emit({ type: 'backend', backend: name, state: 'stopped' })
      throw err
    }
    this.events.emit({ type: 'backend', backend: name, state: 'running' })
    await this.probe(backend)
    return { ...view }
  }

  async stop(name: string, persist = true): Promise<BackendView> {
    const backend = this.get(name)
    const view = this.views.get(name)!
    if (persist) this.setDesired(name, 'stopped')
    if (view.state === 'running') await backend.stop()
    view.state = 'stopped'
    this.record(name, { status: 'unknown', latencyMs: 0, error: 'stopped' })
    this.events.emit({ type: 'backend', backend: name, state: 'stopped' })
    this.onHealthChange()
    return { ...view }
  }

  /** Stops every running backend without changing what the user asked for. */
  async stopAll(): Promise<void> {
    this.stopLoop()
    await this.probing
    for (const name of this.backends.keys()) await this.stop(name, false).catch(() => {})
  }

  /** (Re)starts the health loop at `seconds` intervals. */
  startLoop(seconds: number): void {
    this.stopLoop()
    this.timer = setInterval(() => void this.probeAll(), seconds * 1000)
    this.timer.unref()
  }

  stopLoop(): void {
    if (this.timer != null) clearInterval(this.timer)
    this.timer = undefined
  }

  /** One probe round over every running backend; concurrent calls share the round in flight. */
  probeAll(): Promise<void> {
    this.probing ??= (async () => {
      try {
        let changed = false
        for (const b of this.backends.values()) {
          if (this.views.get(b.name)!.state === 'running') changed = (await this.probe(b)) || changed
        }
        if (changed) this.onHealthChange()
      } finally {
        this.probing = undefined
      }
    })()
    return this.probing
  }

  /** Probes one backend; true if its status changed. */
  private async probe(backend: Backend): Promise<boolean> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS)
    let report: HealthReport
    try {
      report = await Promise.race([
        backend.health(signal),
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () =>
            reject(new Error(`probe timed out after ${PROBE_TIMEOUT_MS} ms`)),
          ),
        ),
      ])
    } catch (err) {
      report = { status: 'unhealthy', latencyMs: PROBE_TIMEOUT_MS, error: (err as Error).message }
    }
    return this.record(backend.name, report)
  }

  private record(name: string, report: HealthReport): boolean {
    const view = this.views.get(name)!
    const previous: HealthStatus = view.health?.status ?? 'unknown'
    view.health = { ...report, checkedAt: Date.now() }
    this.db
      .prepare(
        'INSERT INTO health (backend, at, status, latency_ms, free_bytes, used_bytes, error) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        name,
        view.health.checkedAt,
        report.status,
        report.latencyMs,
        report.freeBytes ?? null,
        report.usedBytes ?? null,
        report.error ?? null,
      )
    this.db
      .prepare(
        'DELETE FROM health WHERE backend = ? AND at < (SELECT at FROM health WHERE backend = ? ORDER BY at DESC LIMIT 1 OFFSET ?)',
      )
      .run(name, name, HISTORY_KEPT)
    if (previous === report.status) return false
    this.events.emit({ type: 'health', backend: name, status: report.status, previous, error: report.error })
    return true
  }

  /** The last `limit` probes of a backend, newest first. */
  history(
    name: string,
    limit = 100,
  ): { at: number; status: string; latencyMs: number; error: string | null }[] {
    this.get(name)
    return (
      this.db
        .prepare(
          'SELECT at, status, latency_ms, error FROM health WHERE backend = ? ORDER BY at DESC LIMIT ?',
        )
        .all(name, limit) as { at: number; status: string; latency_ms: number; error: string | null }[]
    ).map((r) => ({ at: r.at, status: r.status, latencyMs: r.latency_ms, error: r.error }))
  }

  private setDesired(name: string, desired: 'running' | 'stopped'): void {
    this.db
      .prepare(
        'INSERT INTO backend_state (name, desired) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET desired = excluded.desired',
      )
      .run(name, desired)
  }
}
