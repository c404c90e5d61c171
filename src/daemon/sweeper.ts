import { CID } from 'multiformats/cid'
import type { SweptItem } from '../backends/types.ts'
import type { Repo } from '../repo.ts'
import type { EventBus } from './events.ts'
import type { Supervisor } from './supervisor.ts'

/** Files (and bytes) a sweep removed. */
export interface SweepCount {
  files: number
  bytes: number
}

/**
 * Removes from each backend what no pin wants there: CARs of removed pins or of pins the state does
 * not record on that backend, and temp files of writers that are gone. Reports each removal as a
 * `sweep` event and a log line, and keeps a count since start.
 */
export class Sweeper {
  private readonly repo: Repo
  private readonly supervisor: Supervisor
  private readonly events: EventBus
  private readonly log: (message: string, fields: Record<string, unknown>) => void
  /** What sweeps removed since the daemon started. */
  readonly total: SweepCount = { files: 0, bytes: 0 }

  constructor(
    repo: Repo,
    supervisor: Supervisor,
    events: EventBus,
    log: (message: string, fields: Record<string, unknown>) => void,
  ) {
    this.repo = repo
    this.supervisor = supervisor
    this.events = events
    this.log = log
  }

  /** A removed pin: unpin it from every backend that still holds it (a copy that finished late). */
  async pin(cid: string): Promise<SweepCount> {
    const count = { files: 0, bytes: 0 }
    const root = CID.parse(cid)
    for (const backend of this.supervisor.all()) {
      if (backend.sweep == null || !this.supervisor.usable(backend.name)) continue
      if (!(await backend.has(root)) || this.repo.pins.get(cid) != null) continue
      await backend.unpin(root)
      this.report(backend.name, [{ name: `${cid}`, root: cid, kind: 'orphan', bytes: 0 }], count)
    }
    return count
  }

  /** Sweeps every usable backend; `copying(root)` says a copy of it is in flight (never swept). */
  async all(copying: (root: string) => boolean, stopped: () => boolean): Promise<SweepCount> {
    const count = { files: 0, bytes: 0 }
    for (const backend of this.supervisor.all()) {
      if (backend.sweep == null || !this.supervisor.usable(backend.name) || stopped()) continue
      const wanted = (root: string) =>
        copying(root) || this.repo.replicas.of(root).some((r) => r.backend === backend.name)
      try {
        this.report(backend.name, await backend.sweep(wanted), count)
      } catch (err) {
        this.log('sweeping a backend failed', { backend: backend.name, err: (err as Error).message })
      }
    }
    return count
  }

  private report(backend: string, items: SweptItem[], count: SweepCount): void {
    if (items.length === 0) return
    const bytes = items.reduce((n, i) => n + i.bytes, 0)
    count.files += items.length
    count.bytes += bytes
    this.total.files += items.length
    this.total.bytes += bytes
    const names = items.slice(0, 100).map((i) => i.name)
    this.events.emit({ type: 'sweep', backend, removed: items.length, bytes, names })
    this.log('removed what no pin wants', { backend, removed: items.length, bytes, names })
  }
}
