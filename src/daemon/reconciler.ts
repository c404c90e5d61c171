import { setImmediate as nextTurn } from 'node:timers/promises'
import { CID } from 'multiformats/cid'
import type { Backend } from '../backends/types.ts'
import type { ReplicationPolicy } from '../config/config.ts'
import { BusyError } from '../errors.ts'
import { pacer } from '../pace.ts'
import { LOCAL_BACKEND, type Repo } from '../repo.ts'
import { PassCursorStore, type SavedPass } from '../state/pass-cursor.ts'
import { pinsChangedSince } from '../state/pin-changes.ts'
import type { PinRecord } from '../state/pins.ts'
import type { ReplicaRecord } from '../state/replicas.ts'
import { type Allocator, countedReplicas, type EffectivePolicy, preferredThenFreeSpace } from './allocator.ts'
import type { EventBus } from './events.ts'
import type { Supervisor } from './supervisor.ts'
import { Sweeper } from './sweeper.ts'

export type { EffectivePolicy } from './allocator.ts'

export type PinHealth =
  | 'ok'
  | 'degraded'
  | 'under-replicated'
  | 'over-replicated'
  | 'unavailable'
  | 'queued'
  | 'failed'

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
  /** Which pass this was (the id `POST /replication/sync` answers with). */
  pass: number
  startedAt: number
  ms: number
  pins: number
  copied: number
  verified: number
  failed: number
  removed: number
  /** Files no pin wants (orphan CARs, temp files of dead writers) the sweep removed, and their bytes. */
  swept: number
  sweptBytes: number
  /** The CID after which this pass began: the last one a pass interrupted by a restart had done. */
  resumedAfter?: string
}

/** Fetches a pin's DAG into the local blockstore from configured peers; throws with the reason. */
export type Fetcher = (root: CID) => Promise<void>

/** Pins read from state per slice of a full pass. */
const SLICE = 256

/** How long a stop waits for the reconciler's call in flight (a hung backend's) before going on. */
const DRAIN_GRACE_MS = 10_000

/** A full pass over every pin: where it has got to, and who waits for it. */
interface Pass {
  report: SyncReport
  verify: boolean
  /** The last CID done: the pass resumes after it (pins added or removed meanwhile are fine). */
  cursor: string | undefined
  total: number
  lastProgress: number
  done: PromiseWithResolvers<SyncReport>
}

/**
 * Replication as reconciliation (IPFS Cluster's PinTracker): compare each pin's desired replica
 * count with its verified replicas on usable backends, copy the DAG from a verified holder to the
 * targets the allocator picks as a CAR stream, read the copy back and re-hash it, and only then
 * count it; then sweep each backend of what no pin wants.
 *
 * One worker does all of it, one pin at a time, yielding to the event loop as it goes: first the
 * work queue (a pin that changed is reconciled on its own, at once), then the next slice of the full
 * pass in progress, which reads pins by CID cursor and so never holds the whole pin set.
 */
export class Reconciler {
  private readonly repo: Repo
  private readonly supervisor: Supervisor
  private readonly events: EventBus
  private readonly policyDefault: () => ReplicationPolicy
  private readonly fetcher: Fetcher
  private readonly allocator: Allocator
  /** Pins that changed: reconciled before the full pass goes on. */
  private readonly queue = new Set<string>()
  /** In-flight copies by CID, so removing the pin can cancel them. */
  private readonly copies = new Map<string, AbortController>()
  private current: Pass | undefined
  private next: Pass | undefined
  private passes = 0
  private worker: Promise<void> | undefined
  private closed = false
  private catchingUp: Promise<void> | undefined
  private catchUpAgain = false
  private caughtUpTo = Date.now()
  private timer: NodeJS.Timeout | undefined
  private soon: NodeJS.Timeout | undefined
  last: SyncReport | undefined
  private readonly sweeper: Sweeper
  private readonly cursors: PassCursorStore
  /** An interrupted pass's cursor, read at start: the first pass goes on from it. */
  private resume: SavedPass | undefined
  /** Called after a sync that changed any pin or replica. */
  onChange: () => void = () => {}
  /** Where the reconciler says what it removed (the daemon's log). */
  log: (message: string, fields: Record<string, unknown>) => void = () => {}

  constructor(
    repo: Repo,
    supervisor: Supervisor,
    events: EventBus,
    policy: () => ReplicationPolicy,
    fetcher: Fetcher,
    allocator: Allocator = preferredThenFreeSpace,
  ) {
    this.repo = repo
    this.supervisor = supervisor
    this.events = events
    this.policyDefault = policy
    this.fetcher = fetcher
    this.allocator = allocator
    this.sweeper = new Sweeper(repo, supervisor, events, (m, f) => this.log(m, f))
    this.cursors = new PassCursorStore(repo.db)
    this.resume = this.cursors.load()
  }

  /** What sweeps removed since the daemon started. */
  get swept(): { files: number; bytes: number } {
    return { ...this.sweeper.total }
  }

  get busy(): boolean {
    return this.current != null || this.worker != null
  }

  /** The id of the pass a `sync()` called now is answered by. */
  get pendingPass(): number | undefined {
    return (this.next ?? this.current)?.report.pass
  }

  /**
   * Runs a full pass now; while one is running, every caller shares the single next pass, which
   * starts when the current one ends (so a caller always gets a pass that began after its request).
   */
  sync(opts: { verify?: boolean } = {}): Promise<SyncReport> {
    if (this.closed) return Promise.reject(stopping())
    let pass: Pass
    if (this.current == null) pass = this.current = this.newPass()
    else pass = this.next ??= this.newPass()
    if (opts.verify === true) pass.verify = true
    this.kick()
    return pass.done.promise
  }

  /** Reconciles one pin soon, on its own (after a pin add or remove): work proportional to the change. */
  enqueue(cid: string): void {
    if (this.closed) return
    this.queue.add(cid)
    this.kick()
  }

  /** The pin was removed: cancel its copy in flight and remove what any backend still holds of it. */
  forget(cid: string): void {
    this.copies.get(cid)?.abort(new Error('the pin was removed'))
    this.enqueue(cid)
  }

  /**
   * Another process wrote pins (the CLI records the pins of content it adds straight into state.db):
   * find the pins changed since the last look, a page at a time, yielding between pages, and queue
   * just those, rather than a pass over every pin. (What another process removed, the next full
   * pass's sweep finds.)
   */
  catchUp(): void {
    if (this.closed) return
    if (this.catchingUp != null) {
      this.catchUpAgain = true
      return
    }
    this.catchingUp = (async () => {
      do {
        this.catchUpAgain = false
        const since = this.caughtUpTo - 2_000 // slack for writes that committed while the last look ran
        this.caughtUpTo = Date.now()
        let after: string | undefined
        do {
          const page = pinsChangedSince(this.repo.db, since, after, 2_000)
          for (const cid of page.changed) this.enqueue(cid)
          after = page.last
          await nextTurn()
        } while (after != null && !this.closed)
      } while (this.catchUpAgain && !this.closed)
    })()
      .catch((err: Error) => this.log('looking for changed pins failed', { err: err.message }))
      .finally(() => {
        this.catchingUp = undefined
      })
  }

  /** Asks for a full pass shortly (debounced), e.g. after a backend's health changed. */
  nudge(delayMs = 100): void {
    if (this.soon != null || this.closed) return
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

  /**
   * Stops for a graceful shutdown: the copy in flight is cancelled (its temp file removed), the
   * worker stops at the next pin, and callers still waiting for a pass are told the daemon is stopping.
   */
  async drain(graceMs = DRAIN_GRACE_MS): Promise<void> {
    this.closed = true
    this.stopLoop()
    for (const c of this.copies.values()) c.abort(new Error('the daemon is stopping'))
    // a backend that never answers (a verify of a replica on a hung service) must not hold the stop:
    // wait a while for the pin in hand, then go (nothing is acknowledged by the pass; it resumes)
    let timer: NodeJS.Timeout | undefined
    const grace = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), graceMs)
    })
    const settled = await Promise.race([
      Promise.all([this.catchingUp, this.worker]).then(() => 'done'),
      grace,
    ])
    clearTimeout(timer)
    if (settled === 'late')
      this.log('stopping without waiting further for a backend call in flight', { waitedMs: graceMs })
    for (const pass of [this.current, this.next]) pass?.done.reject(stopping())
    this.current = this.next = undefined
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

  /** A backend's failure domain: the one its config declares, or its own. */
  private domainOf(name: string): string {
    const domain = this.supervisor.all().find((b) => b.name === name)?.failureDomain
    return domain == null ? `backend:${name}` : `domain:${domain}`
  }

  /** How many of these verified holders count toward the policy's minimum (see countedReplicas). */
  private counted(holders: readonly string[], policy: EffectivePolicy): number {
    const usable = this.supervisor
      .list()
      .filter((v) => this.supervisor.usable(v.name) && !policy.excluded.includes(v.name))
      .map((v) => v.name)
    return countedReplicas(holders, usable, (b) => this.domainOf(b))
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
    else if (this.counted(verified, policy) < policy.min) health = 'under-replicated'
    else if (verified.length > policy.max) health = 'over-replicated'
    else if (
      replicas.some(
        (r) =>
          r.state === 'verified' && verified.includes(r.backend) && r.detail?.startsWith('degraded') === true,
      )
    )
      health = 'degraded'
    else health = 'ok'
    return { cid: pin.cid, status: pin.status, health, policy, verified, replicas, error: pin.error }
  }

  private newPass(): Pass {
    const report: SyncReport = {
      pass: ++this.passes,
      startedAt: 0,
      ms: 0,
      pins: 0,
      copied: 0,
      verified: 0,
      failed: 0,
      removed: 0,
      swept: 0,
      sweptBytes: 0,
    }
    const done = Promise.withResolvers<SyncReport>()
    done.promise.catch(() => {}) // a caller that stopped waiting must not make it unhandled
    return { report, verify: false, cursor: undefined, total: 0, lastProgress: 0, done }
  }

  private kick(): void {
    if (this.worker != null || this.closed) return
    this.worker = this.work()
      .catch((err: Error) => {
        // e.g. the state database failed: end the pass with the error rather than retry it hot
        this.log('the replication worker failed', { err: err.message })
        this.current?.done.reject(err)
        this.current = this.next
        this.next = undefined
      })
      .finally(() => {
        this.worker = undefined
        if (this.queue.size > 0 || this.current != null) this.kick()
      })
  }

  /** The one worker: queued pins first, then the full pass slice by slice, yielding as it goes. */
  private async work(): Promise<void> {
    const pace = pacer()
    while (!this.closed) {
      const [cid] = this.queue
      if (cid != null) {
        this.queue.delete(cid)
        await this.reconcileOne(cid)
        await pace()
        continue
      }
      const pass = this.current
      if (pass == null) return
      if (pass.report.startedAt === 0) this.begin(pass)
      const slice = this.repo.pins.list({ after: pass.cursor, limit: SLICE })
      if (slice.length === 0) {
        await this.finish(pass)
        continue
      }
      for (const pin of slice) {
        await this.reconcileCounted(pin, pass.verify, pass.report)
        pass.cursor = pin.cid
        pass.report.pins++
        this.progress(pass)
        await pace()
        if (this.queue.size > 0 || this.closed) break
      }
      // once a slice (one small commit), so a restart goes on from here
      if (pass.cursor != null) this.cursors.save(pass.cursor, pass.verify)
    }
  }

  private begin(pass: Pass): void {
    pass.report.startedAt = Date.now()
    // the first pass after a restart goes on where the interrupted one stopped
    const resume = this.resume
    this.resume = undefined
    if (resume != null && pass.cursor == null) {
      pass.cursor = resume.cursor
      pass.verify ||= resume.verify
      pass.report.resumedAfter = resume.cursor
      this.log('resuming the interrupted replication pass', { after: resume.cursor, verify: pass.verify })
    }
    const counts = this.repo.pins.counts()
    pass.total = counts.queued + counts.pinned + counts.failed
    this.events.emit({ type: 'replication', phase: 'started', pass: pass.report.pass, pins: pass.total })
  }

  private progress(pass: Pass): void {
    // at most five a second, so a million-pin pass does not flood /events
    if (Date.now() - pass.lastProgress < 200) return
    pass.lastProgress = Date.now()
    this.events.emit({
      type: 'replication',
      phase: 'progress',
      pass: pass.report.pass,
      pins: Math.max(pass.total, pass.report.pins),
      done: pass.report.pins,
    })
  }

  private async finish(pass: Pass): Promise<void> {
    const report = pass.report
    const swept = await this.sweeper.all(
      (root) => this.copies.has(root),
      () => this.closed,
    )
    report.swept += swept.files
    report.sweptBytes += swept.bytes
    report.ms = Date.now() - report.startedAt
    this.last = report
    this.cursors.clear()
    this.current = this.next
    this.next = undefined
    this.events.emit({
      type: 'replication',
      phase: 'finished',
      pass: report.pass,
      pins: report.pins,
      copied: report.copied,
      verified: report.verified,
      failed: report.failed,
      removed: report.removed,
      swept: report.swept,
      ms: report.ms,
    })
    if (report.copied + report.failed + report.removed + report.verified + report.swept > 0) this.onChange()
    pass.done.resolve(report)
  }

  /** A queued pin: reconcile it, or if it is gone, remove what backends still hold of it. */
  private async reconcileOne(cid: string): Promise<void> {
    const pin = this.repo.pins.get(cid)
    const scratch = this.newPass().report
    if (pin != null) await this.reconcileCounted(pin, false, scratch)
    else scratch.swept += (await this.sweeper.pin(cid)).files
    if (scratch.copied + scratch.failed + scratch.removed + scratch.swept > 0) this.onChange()
  }

  private async reconcileCounted(pin: PinRecord, verify: boolean, report: SyncReport): Promise<void> {
    try {
      await this.reconcile(pin, verify, report)
    } catch (err) {
      report.failed++
      this.repo.pins.setStatus(pin.cid, pin.status, `reconcile failed: ${(err as Error).message}`)
    }
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
    if (this.counted(holders, policy) < policy.min) {
      // one copy at a time, placement recomputed after each: a copy changes which domains hold it
      const tried = new Set<string>()
      while (this.counted(holders, policy) < policy.min) {
        const held = new Set(holders.map((h) => this.domainOf(h)))
        const candidates = this.supervisor
          .list()
          .filter((v) => this.supervisor.usable(v.name) && !tried.has(v.name))
          .map((v) => ({
            name: v.name,
            freeBytes: v.health?.freeBytes,
            latencyMs: v.health?.latencyMs,
            domainHeld: held.has(this.domainOf(v.name)),
          }))
        const target = this.allocator.targets(policy, candidates, holders)[0]
        if (target == null) break
        tried.add(target)
        if (await this.copy(root, this.supervisor.get(holders[0]!), this.supervisor.get(target), pin)) {
          report.copied++
          holders = this.holders(pin.cid)
        } else report.failed++
        if (this.repo.pins.get(pin.cid) == null) return // removed meanwhile
      }
      const after = this.counted(holders, policy)
      if (after < policy.min) {
        this.repo.pins.setStatus(
          pin.cid,
          'pinned',
          `under-replicated: ${after} of ${policy.min} verified replicas`,
        )
      }
    } else {
      for (const name of this.allocator.extras(policy, holders)) {
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
      if (this.repo.pins.get(pin.cid) == null) return // removed while it was read
      if (result.ok) {
        this.repo.replicas.set(pin.cid, r.backend, 'verified', null, result.detail ?? null)
        if (r.detail !== (result.detail ?? null)) {
          this.events.emit({
            type: 'replica',
            cid: pin.cid,
            backend: r.backend,
            state: 'verified',
            detail: result.detail,
          })
        }
        if (pin.size == null && result.bytes > 0)
          this.repo.pins.setStatus(pin.cid, pin.status, pin.error, result.bytes)
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
      if (result.ok && this.repo.pins.get(pin.cid) != null) {
        this.repo.replicas.set(pin.cid, backend.name, 'verified', null, result.detail ?? null)
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
      if (this.repo.pins.get(pin.cid) == null) return
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

  /**
   * Copies a DAG as a CAR stream, reads it back, and records the replica only if it verifies. If the
   * pin is removed meanwhile the copy is cancelled (or, if it had just finished, undone).
   */
  private async copy(root: CID, from: Backend, to: Backend, pin: PinRecord): Promise<boolean> {
    const cid = root.toString()
    const abort = new AbortController()
    this.copies.set(cid, abort)
    this.repo.replicas.set(cid, to.name, 'copying')
    this.events.emit({ type: 'replica', cid, backend: to.name, state: 'copying' })
    let error: string | undefined
    let bytes: number | undefined
    let detail: string | undefined
    const policy = this.policyOf(pin)
    try {
      await to.put(root, from.get(root, { signal: abort.signal }), {
        signal: abort.signal,
        name: pin.name ?? undefined,
        replication: { min: policy.min, max: policy.max },
      })
      abort.signal.throwIfAborted()
      const result = await to.verify(root)
      if (!result.ok) error = `copy did not verify: ${result.error}`
      bytes = result.bytes
      detail = result.detail
    } catch (err) {
      error = abort.signal.aborted
        ? `cancelled: ${(abort.signal.reason as Error).message}`
        : (err as Error).message
    } finally {
      this.copies.delete(cid)
    }
    const now = this.repo.pins.get(cid)
    if (now == null) {
      // removed while copying: what the copy left is nobody's
      await to.unpin(root).catch(() => {})
      this.events.emit({ type: 'replica', cid, backend: to.name, state: 'removed', error })
      return false
    }
    if (error == null && now.size == null && bytes != null && bytes > 0)
      this.repo.pins.setStatus(cid, now.status, now.error, bytes)
    this.repo.replicas.set(cid, to.name, error == null ? 'verified' : 'failed', error ?? null, detail ?? null)
    this.events.emit({
      type: 'replica',
      cid,
      backend: to.name,
      state: error == null ? 'verified' : 'failed',
      error,
      detail,
    })
    return error == null
  }
}

function stopping(): BusyError {
  return new BusyError('the daemon is stopping: the replication pass resumes when it starts again')
}
