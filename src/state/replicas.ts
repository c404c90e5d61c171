import type { StateDb } from './db.ts'

export type ReplicaState = 'copying' | 'verified' | 'failed' | 'lost'

export interface ReplicaRecord {
  cid: string
  backend: string
  state: ReplicaState
  verifiedAt: number | null
  updatedAt: number
  error: string | null
}

/** Which backend holds which pin, and whether that copy has been verified. */
export class ReplicaStore {
  private readonly db: StateDb

  constructor(db: StateDb) {
    this.db = db
  }

  set(cid: string, backend: string, state: ReplicaState, error: string | null = null): void {
    const now = Date.now()
    this.db
      .prepare(
        `INSERT INTO replicas (cid, backend, state, verified_at, updated_at, error) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(cid, backend) DO UPDATE SET state = excluded.state,
           verified_at = coalesce(excluded.verified_at, replicas.verified_at),
           updated_at = excluded.updated_at, error = excluded.error`,
      )
      .run(cid, backend, state, state === 'verified' ? now : null, now, error)
  }

  remove(cid: string, backend: string): void {
    this.db.prepare('DELETE FROM replicas WHERE cid = ? AND backend = ?').run(cid, backend)
  }

  of(cid: string): ReplicaRecord[] {
    return (
      this.db
        .prepare(
          'SELECT cid, backend, state, verified_at, updated_at, error FROM replicas WHERE cid = ? ORDER BY backend',
        )
        .all(cid) as ReplicaRow[]
    ).map(fromRow)
  }

  all(): ReplicaRecord[] {
    return (
      this.db
        .prepare(
          'SELECT cid, backend, state, verified_at, updated_at, error FROM replicas ORDER BY cid, backend',
        )
        .all() as ReplicaRow[]
    ).map(fromRow)
  }

  /** Counts by backend and state, for status pages and metrics. */
  summary(): { backend: string; state: ReplicaState; n: number }[] {
    return this.db
      .prepare(
        'SELECT backend, state, count(*) AS n FROM replicas GROUP BY backend, state ORDER BY backend, state',
      )
      .all() as { backend: string; state: ReplicaState; n: number }[]
  }
}

interface ReplicaRow {
  cid: string
  backend: string
  state: ReplicaState
  verified_at: number | null
  updated_at: number
  error: string | null
}

function fromRow(r: ReplicaRow): ReplicaRecord {
  return {
    cid: r.cid,
    backend: r.backend,
    state: r.state,
    verifiedAt: r.verified_at,
    updatedAt: r.updated_at,
    error: r.error,
  }
}
