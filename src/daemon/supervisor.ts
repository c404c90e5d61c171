import type { Backend, HealthReport, HealthStatus } from '../backends/types.ts'
import { IpfsKitError } from '../errors.ts'
import type { StateDb } from '../state/db.ts'
import { HealthStore } from '../state/health.ts'
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

export interface SupervisorOptions {
  /** The deadline of one health probe (default 10 s). */
  probeTimeoutMs?: number
}

/**
 * Starts and stops backends, remembers which the user stopped (so a restart honours it), and runs
 * the health loop: one read-only probe per running backend per interval, all at once and each with
 * a deadline (a hung backend reports `unhealthy` and holds up no other), a history row each, and an
 * event when a status changes. It never restarts anything on its own.
 */
export class Supervisor {
  private readonly backends = new Map<string, Backend>()
  private readonly views = new Map<string, BackendView>()
  private readonly records: HealthStore
  private readonly events: EventBus
  private readonly probeTimeoutMs: number
  private timer: NodeJS.Timeout | undefined
  private probing: Promise<void> | undefined
  /** Probes that have not returned yet: a hung one is waited on again, never started twice. */
  private readonly unsettled = new Map<string, { report: Promise<HealthReport>; since: number }>()
  /** Called after a probe round in which any status changed. */
  onHealthChange: () => void = () => {}

  constructor(db: StateDb, backends: Backend[], events: EventBus, opts: SupervisorOptions = {}) {
    this.records = new HealthStore(db)
    this.events = events
    this.probeTimeoutMs = opts.probeTimeoutMs ?? PROBE_TIMEOUT_MS
    for (const b of backends) {
      this.backends.set(b.name, b)
      this.views.set(b.name, { name: b.name, type: b.type, state: 'stopped', health: null, error: null })
    }
  }

  /**
   * Starts every backend the user has not stopped, all at once; a failure is recorded, not fatal.
   * It does not probe them: the caller's `probeAll()` does, once, so a hung backend costs one deadline.
   */
  async startAll(): Promise<void> {
    const stopped = this.records.stopped()
    const names = [...this.backends.keys()].filter((name) => !stopped.has(name))
    await Promise.all(names.map((name) => this.start(name, false, false).catch(() => {})))
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

  async start(name: string, persist = true, probe = true): Promise<BackendView> {
    const backend = this.get(name)
    const view = this.views.get(name)!
    if (persist) this.records.setDesired(name, 'running')
    // a running backend whose last probe failed (a managed process that died) is started again:
    // every backend's start() is a no-op for what is already up
    if (view.state === 'running' && view.health?.status !== 'unhealthy') return { ...view }
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
    if (probe) await this.probe(backend)
    return { ...view }
  }

  /**
   * Takes in a backend added at run time (`backend add`, a config change) and starts it unless the
   * user stopped one of that name before; a start failure is recorded in its view, not thrown.
   */
  async add(backend: Backend): Promise<BackendView> {
    if (this.backends.has(backend.name))
      throw new IpfsKitError('ERR_BUSY', `a backend named "${backend.name}" exists`)
    this.backends.set(backend.name, backend)
    this.views.set(backend.name, {
      name: backend.name,
      type: backend.type,
      state: 'stopped',
      health: null,
      error: null,
    })
    if (!this.records.stopped().has(backend.name)) await this.start(backend.name, false).catch(() => {})
    this.onHealthChange()
    return { ...this.views.get(backend.name)! }
  }

  /** Stops a backend and forgets it (`backend remove`): its replicas stop counting at once. */
  async remove(name: string): Promise<void> {
    const backend = this.get(name)
    const view = this.views.get(name)!
    this.backends.delete(name)
    this.views.delete(name)
    this.unsettled.delete(name)
    if (view.state === 'running') await backend.stop().catch(() => {})
    this.events.emit({ type: 'backend', backend: name, state: 'stopped' })
    this.onHealthChange()
  }

  async stop(name: string, persist = true): Promise<BackendView> {
    const backend = this.get(name)
    const view = this.views.get(name)!
    if (persist) this.records.setDesired(name, 'stopped')
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

  /** One probe round over every running backend, in parallel; concurrent calls share the round in flight. */
  probeAll(): Promise<void> {
    this.probing ??= (async () => {
      try {
        const running = [...this.backends.values()].filter((b) => this.views.get(b.name)!.state === 'running')
        const changed = await Promise.all(running.map((b) => this.probe(b)))
        if (changed.some(Boolean)) this.onHealthChange()
      } finally {
        this.probing = undefined
      }
    })()
    return this.probing
  }

  /** Probes one backend within the deadline; true if its status changed. */
  private async probe(backend: Backend): Promise<boolean> {
    let probe = this.unsettled.get(backend.name)
    if (probe == null) {
      const since = Date.now()
      const report = backend.health(AbortSignal.timeout(this.probeTimeoutMs)).finally(() => {
        if (this.unsettled.get(backend.name)?.report === report) this.unsettled.delete(backend.name)
      })
      probe = { report, since }
      this.unsettled.set(backend.name, probe)
    }
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<HealthReport>((resolve) => {
      timer = setTimeout(() => {
        const waited = Date.now() - probe.since
        resolve({
          status: 'unhealthy',
          latencyMs: waited,
          error: `timed out: no answer to the health probe after ${waited} ms`,
        })
      }, this.probeTimeoutMs)
    })
    let report: HealthReport
    try {
      report = await Promise.race([probe.report, deadline])
    } catch (err) {
      report = { status: 'unhealthy', latencyMs: Date.now() - probe.since, error: (err as Error).message }
    } finally {
      clearTimeout(timer)
    }
    return this.record(backend.name, report)
  }

  private record(name: string, report: HealthReport): boolean {
    const view = this.views.get(name)!
    const previous: HealthStatus = view.health?.status ?? 'unknown'
    view.health = { ...report, checkedAt: Date.now() }
    this.records.record(name, {
      at: view.health.checkedAt,
      status: report.status,
      latencyMs: report.latencyMs,
      freeBytes: report.freeBytes ?? null,
      usedBytes: report.usedBytes ?? null,
      error: report.error ?? null,
    })
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
    return this.records.history(name, limit)
  }
}
