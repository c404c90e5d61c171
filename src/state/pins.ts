import type { CID } from 'multiformats/cid'
import type { StateDb } from './db.ts'

export type PinType = 'recursive' | 'direct'
export type PinStatus = 'queued' | 'pinned' | 'failed'

/** A pin's own replication policy; unset fields fall back to the configured default. */
export interface PinPolicy {
  minReplicas?: number
  maxReplicas?: number
  preferred?: string[]
  excluded?: string[]
}

export interface PinRecord {
  cid: string
  type: PinType
  name: string | null
  status: PinStatus
  /** Bytes of the whole DAG, once known. */
  size: number | null
  policy: PinPolicy
  error: string | null
  createdAt: number
  updatedAt: number
}

export interface AddPin {
  type?: PinType
  name?: string
  status?: PinStatus
  size?: number
  policy?: PinPolicy
}

const COLUMNS =
  'cid, type, name, status, size, min_replicas, max_replicas, preferred, excluded, error, created_at, updated_at'

/** The pin set in state.db. A recursive pin keeps a whole DAG, a direct pin one block. */
export class PinStore {
  private readonly db: StateDb

  constructor(db: StateDb) {
    this.db = db
  }

  /** Records a pin (durably, on return); a recursive pin is never downgraded to direct. */
  add(cid: CID | string, opts: AddPin = {}): void {
    const now = Date.now()
    const p = opts.policy ?? {}
    this.db
      .prepare(
        `INSERT INTO pins (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)
         ON CONFLICT(cid) DO UPDATE SET
           type = CASE WHEN pins.type = 'recursive' THEN 'recursive' ELSE excluded.type END,
           name = coalesce(excluded.name, pins.name),
           status = CASE WHEN pins.status = 'pinned' THEN 'pinned' ELSE excluded.status END,
           size = coalesce(excluded.size, pins.size),
           min_replicas = coalesce(excluded.min_replicas, pins.min_replicas),
           max_replicas = coalesce(excluded.max_replicas, pins.max_replicas),
           preferred = coalesce(excluded.preferred, pins.preferred),
           excluded = coalesce(excluded.excluded, pins.excluded),
           updated_at = excluded.updated_at`,
      )
      .run(
        cid.toString(),
        opts.type ?? 'recursive',
        opts.name ?? null,
        opts.status ?? 'pinned',
        opts.size ?? null,
        p.minReplicas ?? null,
        p.maxReplicas ?? null,
        p.preferred == null ? null : JSON.stringify(p.preferred),
        p.excluded == null ? null : JSON.stringify(p.excluded),
        now,
        now,
      )
  }

  setStatus(cid: string, status: PinStatus, error: string | null = null, size?: number): void {
    this.db
      .prepare(
        'UPDATE pins SET status = ?, error = ?, size = coalesce(?, size), updated_at = ? WHERE cid = ?',
      )
      .run(status, error, size ?? null, Date.now(), cid)
  }

  remove(cid: CID | string): boolean {
    return this.db.prepare('DELETE FROM pins WHERE cid = ?').run(cid.toString()).changes > 0
  }

  get(cid: CID | string): PinRecord | undefined {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM pins WHERE cid = ?`).get(cid.toString()) as
      | PinRow
      | undefined
    return row == null ? undefined : fromRow(row)
  }

  list(opts: { status?: PinStatus; limit?: number; after?: string } = {}): PinRecord[] {
    const where: string[] = []
    const args: (string | number)[] = []
    if (opts.status != null) {
      where.push('status = ?')
      args.push(opts.status)
    }
    if (opts.after != null) {
      where.push('cid > ?')
      args.push(opts.after)
    }
    const sql = `SELECT ${COLUMNS} FROM pins ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY cid ${
      opts.limit != null ? 'LIMIT ?' : ''
    }`
    if (opts.limit != null) args.push(opts.limit)
    return (this.db.prepare(sql).all(...args) as PinRow[]).map(fromRow)
  }

  counts(): Record<PinStatus, number> {
    const out: Record<PinStatus, number> = { queued: 0, pinned: 0, failed: 0 }
    for (const r of this.db.prepare('SELECT status, count(*) AS n FROM pins GROUP BY status').all() as {
      status: PinStatus
      n: number
    }[])
      out[r.status] = r.n
    return out
  }
}

interface PinRow {
  cid: string
  type: PinType
  name: string | null
  status: PinStatus
  size: number | null
  min_replicas: number | null
  max_replicas: number | null
  preferred: string | null
  excluded: string | null
  error: string | null
  created_at: number
  updated_at: number | null
}

function fromRow(r: PinRow): PinRecord {
  const policy: PinPolicy = {}
  if (r.min_replicas != null) policy.minReplicas = r.min_replicas
  if (r.max_replicas != null) policy.maxReplicas = r.max_replicas
  if (r.preferred != null) policy.preferred = JSON.parse(r.preferred) as string[]
  if (r.excluded != null) policy.excluded = JSON.parse(r.excluded) as string[]
  return {
    cid: r.cid,
    type: r.type,
    name: r.name,
    status: r.status,
    size: r.size,
    policy,
    error: r.error,
    createdAt: r.created_at,
    updatedAt: r.updated_at ?? r.created_at,
  }
}
