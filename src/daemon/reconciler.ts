import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { CID } from 'multiformats/cid'
import type { Backend } from '../backends/types.ts'
import type { ReplicationPolicy } from '../config/config.ts'
import { LOCAL_BACKEND, type Repo } from '../repo.ts'
import type { PinRecord } from '../state/pins.ts'
import type { ReplicaRecord } from '../state/replicas.ts'
import type { EventBus } from './events.ts'
import type { Supervisor } from './supervisor.ts'

/** A pin's effective policy: its own fields over the configured default. */
export interface EffectivePolicy {
  min: number
  max: number
  preferred: string[]
  excluded: string[]
}

export type PinHealth = 'ok' | 'under-replicated' | 'over-replicated' | 'unavailable' | 'queued' | 'failed'

export interface PinReplication {
  cid: string
  status: PinRecord['status']
  health: PinHealth
  policy: EffectivePolicy
  /** Verified replicas on usable backends: the copies that count. */
  verified: string[]
  replicas: ReplicaRecord[]
  error: string | null
}

export interface SyncReport {
  startedAt: number
  ms: number
  pins: number
  copied: number
  verified: number
  failed: number
  removed: number
}

/** Fetches a pin's DAG into the local blockstore from configured peers; throws with the reason. */
export type Fetcher = (root: CID) => Promise<void>

/**
 * Replication as reconciliation (IPFS Cluster's PinTracker): compare each pin's desired replica
 * count with its verified replicas on usable backends, copy the DAG from a verified holder to new
 * targets as a CAR stream, read the copy back and re-hash it, and only then count it.
 */
export class Reconciler {
  private readonly repo: Repo
  private readonly supervisor: Supervisor
  private readonly events: EventBus
  private readonly policyDefault: () => ReplicationPolicy
  private readonly fetcher: Fetcher
  private running: Promise<SyncReport> | undefined
  private next: Promise<SyncReport> | undefined
  private verifyNext = false
  private timer: NodeJS.Timeout | undefined
  private soon: NodeJS.Timeout | undefined
  last: SyncReport | undefined
  /** Called after a sync that changed any pin or replica. */
  onChange: () => void = () => {}

  constructor(
    repo: Repo,
    supervisor: Supervisor,
    events: EventBus,
    policy: () => ReplicationPolicy,
    fetcher: Fetcher,
  ) {
    this.repo = repo
    this.supervisor = supervisor
    this.events = events
    this.policyDefault = policy
    this.fetcher = fetcher
  }

  get busy(): boolean {
    return this.running != null
  }

  /**
   * Runs a sync now; while one is running, every caller shares the single next run, which starts
   * when the current one ends (so a caller always gets a pass that began after its request).
   */
  sync(opts: { verify?: boolean } = {}): Promise<SyncReport> {
    if (opts.verify === true) this.verifyNext = true
    if (this.running == null) return this.start()
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    )
    return this.next
  }

  private start(): Promise<SyncReport> {
    this.next = undefined
    const verify = this.verifyNext
    this.verifyNext = false
    const run = this.run(verify).finally(() => {
      if (this.running === run) this.running = undefined
    })
    this.running = run
    return run
  }

  /** Asks for a sync shortly (debounced), e.g. after a pin is added or a backend's health changed. */
  nudge(delayMs = 100): void {
    if (this.soon != null) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      void this.sync().catch(() => {})
    }, delayMs)
    this.soon.unref()
  }

  startLoop(seconds: number): void {
    this.stopLoop()
    this.timer = setInterval(() => void this.sync({ verify: true }).catch(() => {}), seconds * 1000)
    this.timer.unref()
  }

  stopLoop(): void {
    if (this.timer != null) clearInterval(this.timer)
    if (this.soon != null) clearTimeout(this.soon)
    this.timer = undefined
    this.soon = undefined
  }

  /** Waits for a sync in flight to finish (for a graceful stop). */
  async drain(): Promise<void> {
    await this.next?.catch(() => {})
    await this.running?.catch(() => {})
  }

  policyOf(pin: PinRecord): EffectivePolicy {
    const d = this.policyDefault()
    const min = pin.policy.minReplicas ?? d.min_replicas
    return {
      min,
      max: Math.max(min, pin.policy.maxReplicas ?? d.max_replicas),
      preferred: pin.policy.preferred ?? d.preferred,
      excluded: pin.policy.excluded ?? d.excluded,
    }
  }

  /** The replication state of one pin, as the status endpoint shows it (pass `replicas` read in bulk for a page). */
  describe(pin: PinRecord, replicas: ReplicaRecord[] = this.repo.replicas.of(pin.cid)): PinReplication {
    const policy = this.policyOf(pin)
    const verified = replicas
      .filter((r) => r.state === 'verified' && this.supervisor.usable(r.backend))
      .map((r) => r.backend)
    let health: PinHealth
    if (pin.status === 'queued') health = 'queued'
    else if (pin.status === 'failed') health = 'failed'
    else if (verified.length === 0) health = 'unavailable'
    else if (verified.length < policy.min) health = 'under-replicated'
    else if (verified.length > policy.max) health = 'over-replicated'
    else health = 'ok'
    return { cid: pin.cid, status: pin.status, health, policy, verified, replicas, error: pin.error }
  }

  private async run(verify: boolean): Promise<SyncReport> {
    const startedAt = Date.now()
    const report: SyncReport = { startedAt, ms: 0, pins: 0, copied: 0, verified: 0, failed: 0, removed: 0 }
    const pins = this.repo.pins.list()
    this.events.emit({ type: 'replication', phase: 'started', pins: pins.length })
    let lastProgress = Date.now()
    let lastYield = Date.now()
    for (const pin of pins) {
      report.pins++
      if (Date.now() - lastProgress >= 200) {
        // at most five a second, so a million-pin pass does not flood /events
        lastProgress = Date.now()
        this.events.emit({ type: 'replication', phase: 'progress', pins: pins.length, done: report.pins - 1 })
      }
      if (Date.now() - lastYield >= 20) {
        // a pass where nothing waits on I/O is one long microtask chain: let requests in
        await yieldToLoop()
        lastYield = Date.now()
      }
      try {
        await this.reconcile(pin, verify, report)
      } catch (err) {
        report.failed++
        this.repo.pins.setStatus(pin.cid, pin.status, `reconcile failed: ${(err as Error).message}`)
      }
    }
    report.ms = Date.now() - startedAt
    this.last = report
    this.events.emit({
      type: 'replication',
      phase: 'finished',
      pins: report.pins,
      copied: report.copied,
      failed: report.failed,
      ms: report.ms,
    })
    if (report.copied + report.failed + report.removed + report.verified > 0) this.onChange()
    return report
  }

  private async reconcile(pin: PinRecord, verify: boolean, report: SyncReport): Promise<void> {
    const root = CID.parse(pin.cid)
    const policy = this.policyOf(pin)
    if (verify) await this.reverify(pin, root, report)
    let holders = this.holders(pin.cid)
    if (holders.length === 0) {
      await this.discover(pin, root, report)
      holders = this.holders(pin.cid)
      if (holders.length === 0) return
    }
    if (pin.status !== 'pinned' || pin.error != null) this.repo.pins.setStatus(pin.cid, 'pinned', null)
    const need = policy.min - holders.length
    if (need > 0) {
      for (const target of this.targets(pin.cid, policy, holders).slice(0, need)) {
        if (await this.copy(root, this.supervisor.get(holders[0]!), target)) {
          report.copied++
          holders = this.holders(pin.cid)
        } else report.failed++
      }
      const after = this.holders(pin.cid).length
      if (after < policy.min) {
        this.repo.pins.setStatus(
          pin.cid,
          'pinned',
          `under-replicated: ${after} of ${policy.min} verified replicas`,
        )
      }
    } else if (holders.length > policy.max) {
      // drop the least preferred extras, never the local copy first
      const extras = [...holders]
        .sort((a, b) => rank(b, policy) - rank(a, policy))
        .slice(0, holders.length - policy.max)
      for (const name of extras) {
        await this.supervisor.get(name).unpin(root)
        this.repo.replicas.remove(pin.cid, name)
        this.events.emit({ type: 'replica', cid: pin.cid, backend: name, state: 'removed' })
        report.removed++
      }
    }
  }

  /** Re-reads every counted replica of a pin; a bad one stops counting and will be repaired. */
  private async reverify(pin: PinRecord, root: CID, report: SyncReport): Promise<void> {
    for (const r of this.repo.replicas.of(pin.cid)) {
      if (r.state !== 'verified' || !this.supervisor.usable(r.backend)) continue
      const result = await this.supervisor.get(r.backend).verify(root)
      report.verified++
      if (result.ok) {
        this.repo.replicas.set(pin.cid, r.backend, 'verified')
        if (pin.size == null) this.repo.pins.setStatus(pin.cid, pin.status, pin.error, result.bytes)
      } else {
        const state = /missing|ENOENT/.test(result.error ?? '') ? 'lost' : 'failed'
        this.repo.replicas.set(pin.cid, r.backend, state, result.error ?? null)
        this.events.emit({ type: 'replica', cid: pin.cid, backend: r.backend, state, error: result.error })
      }
    }
  }

  /** A pin no usable backend holds: find it on a backend that already has it, or fetch it from peers. */
  private async discover(pin: PinRecord, root: CID, report: SyncReport): Promise<void> {
    for (const backend of this.supervisor.all()) {
      if (!this.supervisor.usable(backend.name) || !(await backend.has(root))) continue
      const result = await backend.verify(root)
      report.verified++
      if (result.ok) {
        this.repo.replicas.set(pin.cid, backend.name, 'verified')
        this.repo.pins.setStatus(pin.cid, 'pinned', null, result.bytes)
        this.events.emit({ type: 'replica', cid: pin.cid, backend: backend.name, state: 'verified' })
        return
      }
    }
    if (this.repo.replicas.of(pin.cid).some((r) => r.state === 'verified')) {
      // it has verified copies, but on backends that are down: wait for them or for repair targets
      this.repo.pins.setStatus(pin.cid, pin.status, 'no usable backend holds a verified copy right now')
      return
    }
    if (!this.supervisor.usable(LOCAL_BACKEND)) {
      this.repo.pins.setStatus(pin.cid, 'queued', 'waiting for the local backend to fetch it')
      return
    }
    try {
      await this.fetcher(root)
      const result = await this.supervisor.get(LOCAL_BACKEND).verify(root)
      if (!result.ok) throw new Error(result.error)
      this.repo.replicas.set(pin.cid, LOCAL_BACKEND, 'verified')
      this.repo.pins.setStatus(pin.cid, 'pinned', null, result.bytes)
      this.events.emit({ type: 'replica', cid: pin.cid, backend: LOCAL_BACKEND, state: 'verified' })
      report.copied++
    } catch (err) {
      this.repo.pins.setStatus(pin.cid, 'failed', (err as Error).message)
      this.events.emit({ type: 'pin', cid: pin.cid, action: 'status', status: 'failed' })
      report.failed++
    }
  }

  private holders(cid: string): string[] {
    return this.repo.replicas
      .of(cid)
      .filter((r) => r.state === 'verified' && this.supervisor.usable(r.backend))
      .map((r) => r.backend)
      .sort((a, b) => (a === LOCAL_BACKEND ? -1 : b === LOCAL_BACKEND ? 1 : 0))
  }

  /** Usable backends that may take a new copy, best first: preferred, then most free space. */
  private targets(_cid: string, policy: EffectivePolicy, holders: string[]): Backend[] {
    return this.supervisor
      .list()
      .filter(
        (v) =>
          this.supervisor.usable(v.name) && !holders.includes(v.name) && !policy.excluded.includes(v.name),
      )
      .sort(
        (a, b) =>
          rank(a.name, policy) - rank(b.name, policy) ||
          (b.health?.freeBytes ?? 0) - (a.health?.freeBytes ?? 0),
      )
      .map((v) => this.supervisor.get(v.name))
  }

  /** Copies a DAG as a CAR stream, reads it back, and records the replica only if it verifies. */
  private async copy(root: CID, from: Backend, to: Backend): Promise<boolean> {
    const cid = root.toString()
    this.repo.replicas.set(cid, to.name, 'copying')
    this.events.emit({ type: 'replica', cid, backend: to.name, state: 'copying' })
    let error: string | undefined
    try {
      await to.put(root, from.get(root))
      const result = await to.verify(root)
      if (!result.ok) error = `copy did not verify: ${result.error}`
      else if (this.repo.pins.get(cid)?.size == null) {
        const pin = this.repo.pins.get(cid)!
        this.repo.pins.setStatus(cid, pin.status, pin.error, result.bytes)
      }
    } catch (err) {
      error = (err as Error).message
    }
    this.repo.replicas.set(cid, to.name, error == null ? 'verified' : 'failed', error ?? null)
    this.events.emit({
      type: 'replica',
      cid,
      backend: to.name,
      state: error == null ? 'verified' : 'failed',
      error,
    })
    return error == null
  }
}

/** Lower is better: preferred backends in their order, then the rest. */
function rank(name: string, policy: EffectivePolicy): number {
  const i = policy.preferred.indexOf(name)
  return i === -1 ? policy.preferred.length : i
}
