import type { StateDb } from './db.ts'

/** One health probe as stored. */
export interface HealthRow {
  at: number
  status: string
  latencyMs: number
  freeBytes: number | null
  usedBytes: number | null
  error: string | null
}

/** Health rows kept per backend. */
const HISTORY_KEPT = 2_000

/** Health probe history per backend, and which backends the user stopped (so a restart honours it). */
export class HealthStore {
  private readonly db: StateDb

  constructor(db: StateDb) {
    this.db = db
  }

  /**
   * Appends a probe and drops the oldest beyond the kept history. Order is the order of recording
   * (rowid), not the wall clock a probe reported: after the clock jumps ahead and back, the newest
   * probes still come first and pruning never keeps future-dated rows over them (RELIABILITY.md F5).
   */
  record(backend: string, row: HealthRow): void {
    this.db
      .prepare(
        'INSERT INTO health (backend, at, status, latency_ms, free_bytes, used_bytes, error) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(backend, row.at, row.status, row.latencyMs, row.freeBytes, row.usedBytes, row.error)
    this.db
      .prepare(
        'DELETE FROM health WHERE backend = ? AND rowid <= (SELECT rowid FROM health WHERE backend = ? ORDER BY rowid DESC LIMIT 1 OFFSET ?)',
      )
      .run(backend, backend, HISTORY_KEPT)
  }

  /** The last `limit` probes of a backend, most recently recorded first. */
  history(backend: string, limit: number): Pick<HealthRow, 'at' | 'status' | 'latencyMs' | 'error'>[] {
    return (
      this.db
        .prepare(
          'SELECT at, status, latency_ms, error FROM health WHERE backend = ? ORDER BY rowid DESC LIMIT ?',
        )
        .all(backend, limit) as { at: number; status: string; latency_ms: number; error: string | null }[]
    ).map((r) => ({ at: r.at, status: r.status, latencyMs: r.latency_ms, error: r.error }))
  }

  /** Names of the backends the user stopped. */
  stopped(): Set<string> {
    const rows = this.db.prepare("SELECT name FROM backend_state WHERE desired = 'stopped'").all() as {
      name: string
    }[]
    return new Set(rows.map((r) => r.name))
  }

  setDesired(backend: string, desired: 'running' | 'stopped'): void {
    this.db
      .prepare(
        'INSERT INTO backend_state (name, desired) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET desired = excluded.desired',
      )
      .run(backend, desired)
  }
}
