import type { StateDb } from './db.ts'

export type ReplicaState = 'copying' | 'verified' | 'failed' | 'lost'

export interface ReplicaRecord {
  cid: string
  backend: string
  state: ReplicaState
  verifiedAt: number | null
  updatedAt: number
  error: string | null
  /** What the backend said of the copy beyond its state ("degraded: pinned on 1 of 2 cluster peers"). */
  detail: string | null
}

/** Which backend holds which pin, and whether that copy has been verified. */
export class ReplicaStore {
  private readonly db: StateDb

  constructor(db: StateDb) {
    this.db = db
  }

  set(
    cid: string,
    backend: string,
    state: ReplicaState,
    error: string | null = null,
    detail: string | null = null,
  ): void {
    const now = Date.now()
    this.db
      .prepare(
        `INSERT INTO replicas (cid, backend, state, verified_at, updated_at, error, detail) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(cid, backend) DO UPDATE SET state = excluded.state,
           verified_at = coalesce(excluded.verified_at, replicas.verified_at),
           updated_at = excluded.updated_at, error = excluded.error, detail = excluded.detail`,
      )
      .run(cid, backend, state, state === 'verified' ? now : null, now, error, detail)
  }

  remove(cid: string, backend: string): void {
    this.db.prepare('DELETE FROM replicas WHERE cid = ? AND backend = ?').run(cid, backend)
  }

  of(cid: string): ReplicaRecord[] {
    return (
      this.db
        .prepare(
          'SELECT cid, backend, state, verified_at, updated_at, error, detail FROM replicas WHERE cid = ? ORDER BY backend',
        )
        .all(cid) as ReplicaRow[]
    ).map(fromRow)
  }

  /** The replicas of many pins in one query (a page of a listing), by CID. */
  ofMany(cids: readonly string[]): Map<string, ReplicaRecord[]> {
    const out = new Map<string, ReplicaRecord[]>(cids.map((c) => [c, []]))
    if (cids.length === 0) return out
    const rows = this.db
      .prepare(
        `SELECT cid, backend, state, verified_at, updated_at, error, detail FROM replicas
         WHERE cid IN (SELECT value FROM json_each(?)) ORDER BY cid, backend`,
      )
      .all(JSON.stringify(cids)) as ReplicaRow[]
    for (const r of rows) out.get(r.cid)?.push(fromRow(r))
    return out
  }

  all(): ReplicaRecord[] {
    return (
      this.db
        .prepare(
          'SELECT cid, backend, state, verified_at, updated_at, error, detail FROM replicas ORDER BY cid, backend',
        )
        .all() as ReplicaRow[]
    ).map(fromRow)
  }

  /** Counts by backend and state, for status pages and metrics (kept by triggers: no scan). */
  summary(): { backend: string; state: ReplicaState; n: number }[] {
    return this.db
      .prepare('SELECT backend, state, n FROM replica_counts WHERE n > 0 ORDER BY backend, state')
      .all() as { backend: string; state: ReplicaState; n: number }[]
  }

  /**
   * Pins by replication health for the `limit` pins after CID `from` (a slice of a full count that
   * yields between slices): health as Reconciler.describe decides it, from the pin's status and
   * its verified replicas on `usable` backends against its policy (`min`, `max`: the defaults).
   * `last` is the slice's last CID, null past the end.
   */
  healthSlice(
    from: string,
    limit: number,
    usable: readonly string[],
    min: number,
    max: number,
  ): { counts: Record<string, number>; pins: number; last: string | null } {
    const rows = this.db
      .prepare(
        `WITH slice AS (
           SELECT cid, status, coalesce(min_replicas, @min) AS lo,
             max(coalesce(min_replicas, @min), coalesce(max_replicas, @max)) AS hi,
             (SELECT count(*) FROM replicas r WHERE r.cid = p.cid AND r.state = 'verified'
                AND r.backend IN (SELECT value FROM json_each(@usable))) AS v
           FROM pins p WHERE cid > @from ORDER BY cid LIMIT @limit)
         SELECT CASE
             WHEN status = 'queued' THEN 'queued'
             WHEN status = 'failed' THEN 'failed'
             WHEN v = 0 THEN 'unavailable'
             WHEN v < lo THEN 'under-replicated'
             WHEN v > hi THEN 'over-replicated'
             ELSE 'ok' END AS health,
           count(*) AS n, max(cid) AS last
         FROM slice GROUP BY health`,
      )
      .all({ from, limit, usable: JSON.stringify(usable), min, max }) as {
      health: string
      n: number
      last: string
    }[]
    const counts: Record<string, number> = {}
    let pins = 0
    let last: string | null = null
    for (const r of rows) {
      counts[r.health] = r.n
      pins += r.n
      if (last == null || r.last > last) last = r.last
    }
    return { counts, pins, last: pins < limit ? null : last }
  }
}

interface ReplicaRow {
  cid: string
  backend: string
  state: ReplicaState
  verified_at: number | null
  updated_at: number
  error: string | null
  detail: string | null
}

function fromRow(r: ReplicaRow): ReplicaRecord {
  return {
    cid: r.cid,
    backend: r.backend,
    state: r.state,
    verifiedAt: r.verified_at,
    updatedAt: r.updated_at,
    error: r.error,
    detail: r.detail,
  }
}
