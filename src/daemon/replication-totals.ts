import { setImmediate as yieldToLoop } from 'node:timers/promises'
import type { ReplicationPolicy } from '../config/config.ts'
import type { Repo } from '../repo.ts'

/** Pins per slice of a recount: small enough that one slice holds the event loop a few ms. */
const SLICE = 2000
/** A recount starts at most this often while pins keep changing. */
const MIN_GAP_MS = 1000

/** Pins by replication health, as of `at` (ms); `stale` while a newer count is on its way. */
export interface HealthTotals {
  totals: Record<string, number>
  at: number
  stale: boolean
}

/**
 * Pins by replication health (ok, under-replicated, ...) for `GET /replication/status`, without a
 * per-request scan of a million pins: one indexed SQL aggregate, run in slices that yield to the
 * event loop, cached, and run again when state.db, the usable backends or the default policy
 * changed. A request gets the cached totals at once (marked stale while a recount runs); only the
 * first request waits for the first count.
 */
export class ReplicationTotals {
  private readonly repo: Repo
  private readonly usable: () => string[]
  private readonly policy: () => ReplicationPolicy
  private cached: { totals: Record<string, number>; at: number; key: string } | undefined
  private running: Promise<void> | undefined
  private lastStart = 0

  constructor(repo: Repo, usable: () => string[], policy: () => ReplicationPolicy) {
    this.repo = repo
    this.usable = usable
    this.policy = policy
  }

  /** The latest totals; starts a recount when what they depend on changed. */
  async get(): Promise<HealthTotals> {
    const key = this.key()
    if (this.cached?.key !== key) this.refresh()
    if (this.cached == null) await this.running
    const c = this.cached!
    return { totals: c.totals, at: c.at, stale: c.key !== this.key() || this.running != null }
  }

  /** What the totals depend on: any commit to state.db (ours or another process's), usable backends, policy. */
  private key(): string {
    const db = this.repo.db
    const version = db.pragma('data_version', { simple: true }) as number
    const ours = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n
    const p = this.policy()
    return `${version}:${ours}:${this.usable().join(',')}:${p.min_replicas}:${p.max_replicas}`
  }

  private refresh(): void {
    if (this.running != null) return
    const wait = Math.max(0, this.lastStart + MIN_GAP_MS - Date.now())
    if (this.cached != null && wait > 0) {
      this.running = new Promise<void>((r) => setTimeout(r, wait).unref()).then(() => this.recount())
    } else this.running = this.recount()
    this.running = this.running.finally(() => {
      this.running = undefined
    })
  }

  private async recount(): Promise<void> {
    this.lastStart = Date.now()
    const key = this.key()
    const usable = this.usable()
    const p = this.policy()
    const totals: Record<string, number> = { pins: 0 }
    let from: string | null = ''
    while (from != null) {
      const slice = this.repo.replicas.healthSlice(from, SLICE, usable, p.min_replicas, p.max_replicas)
      for (const [health, n] of Object.entries(slice.counts)) totals[health] = (totals[health] ?? 0) + n
      totals.pins! += slice.pins
      from = slice.last
      if (from != null) await yieldToLoop()
    }
    this.cached = { totals, at: this.lastStart, key }
  }
}
