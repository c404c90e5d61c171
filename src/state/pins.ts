import { setImmediate as yieldToLoop } from 'node:timers/promises'
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
  /** Multiaddrs the content may be fetched from (the Pinning Service API's `origins`). */
  origins: string[]
  /** The Pinning Service API's `meta`: the client's own string pairs, kept as given. */
  meta: Record<string, string>
}

export interface AddPin {
  type?: PinType
  name?: string
  status?: PinStatus
  size?: number
  policy?: PinPolicy
  origins?: string[]
  meta?: Record<string, string>
}

/**
 * A pin's status as the Pinning Service API lists it: a pinned pin with a copy in flight is
 * `pinning`.
 */
export type ListedStatus = PinStatus | 'pinning'

/**
 * A position in the listing (newest first, as the Pinning Service API lists): a time (the API's
 * `before`/`after` timestamps) or a pin (its creation time and CID, so equal times still page
 * exactly once).
 */
export interface PinCursor {
  at: number
  cid?: string
}

export type NameMatch = 'exact' | 'iexact' | 'partial' | 'ipartial'

/** Filters of a pin listing; every one of them is applied in SQL. */
export interface PinQuery {
  cids?: string[]
  name?: string
  /** How `name` matches (the Pinning Service API's `match`): exact (default), iexact, partial, ipartial. */
  match?: NameMatch
  statuses?: ListedStatus[]
  /** Only pins listed after this position (older). */
  before?: PinCursor
  /** Only pins listed before this position (newer). */
  after?: PinCursor
  /** Only pins whose meta holds every one of these pairs. */
  meta?: Record<string, string>
}

const COPYING = "EXISTS (SELECT 1 FROM replicas r WHERE r.cid = pins.cid AND r.state = 'copying')"

const COLUMNS =
  'cid, type, name, status, size, min_replicas, max_replicas, preferred, excluded, error, created_at, updated_at, origins, meta'

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
        `INSERT INTO pins (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)
         ON CONFLICT(cid) DO UPDATE SET
           type = CASE WHEN pins.type = 'recursive' THEN 'recursive' ELSE excluded.type END,
           name = coalesce(excluded.name, pins.name),
           status = CASE WHEN pins.status = 'pinned' THEN 'pinned' ELSE excluded.status END,
           size = coalesce(excluded.size, pins.size),
           min_replicas = coalesce(excluded.min_replicas, pins.min_replicas),
           max_replicas = coalesce(excluded.max_replicas, pins.max_replicas),
           preferred = coalesce(excluded.preferred, pins.preferred),
           excluded = coalesce(excluded.excluded, pins.excluded),
           origins = coalesce(excluded.origins, pins.origins),
           meta = coalesce(excluded.meta, pins.meta),
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
        opts.origins == null || opts.origins.length === 0 ? null : JSON.stringify(opts.origins),
        opts.meta == null || Object.keys(opts.meta).length === 0 ? null : JSON.stringify(opts.meta),
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

  /** One page of pins matching `query`, newest first; work grows with `limit`, not with the pin set. */
  page(query: PinQuery, limit: number): PinRecord[] {
    const { where, args } = filter(query)
    return (
      this.db
        .prepare(`SELECT ${COLUMNS} FROM pins ${where} ORDER BY created_at DESC, cid DESC LIMIT ?`)
        .all(...args, limit) as PinRow[]
    ).map(fromRow)
  }

  /**
   * How many pins match `query` (the Pinning Service API's `count`): from the trigger-kept counts
   * when only statuses are asked for, else one indexed count.
   */
  count(query: PinQuery): number {
    const { cids, name, statuses, before, after, meta } = query
    if (cids == null && name == null && before == null && after == null && meta == null) {
      const counts = this.counts()
      const wanted = statuses ?? ['queued', 'pinning', 'pinned', 'failed']
      if (!wanted.includes('pinning') && !wanted.includes('pinned'))
        return wanted.reduce((n, s) => n + counts[s as PinStatus], 0)
      const pinning = this.pinningCount()
      let n = 0
      for (const s of wanted)
        n += s === 'pinning' ? pinning : s === 'pinned' ? counts.pinned - pinning : counts[s]
      return n
    }
    const { where, args } = filter(query)
    return (this.db.prepare(`SELECT count(*) AS n FROM pins ${where}`).get(...args) as { n: number }).n
  }

  /**
   * count(query) for a query with a cursor (`before`/`after`): SQLite counts an index range by
   * walking it, so a page deep in a million pins would hold the thread for a count of the rest.
   * This walks it in slices of `slice` rows, yielding to the event loop between them.
   */
  async countInSlices(query: PinQuery, slice = 20_000): Promise<number> {
    if (query.before == null && query.after == null) return this.count(query)
    let n = 0
    let q = query
    for (;;) {
      const { where, args } = filter(q)
      const edge = this.db
        .prepare(
          `SELECT created_at, cid FROM pins ${where} ORDER BY created_at DESC, cid DESC LIMIT 1 OFFSET ?`,
        )
        .get(...args, slice - 1) as { created_at: number; cid: string } | undefined
      if (edge == null) return n + this.count(q)
      n += slice
      q = { ...q, before: { at: edge.created_at, cid: edge.cid } }
      await yieldToLoop()
    }
  }

  /** Pins by status, read from the counts the triggers keep (no scan of the pins). */
  counts(): Record<PinStatus, number> {
    const out: Record<PinStatus, number> = { queued: 0, pinned: 0, failed: 0 }
    for (const r of this.db.prepare('SELECT status, n FROM pin_counts').all() as {
      status: PinStatus
      n: number
    }[])
      out[r.status] = r.n
    return out
  }

  /** Pinned pins with a copy in flight (few at any time; found through the replicas' state index). */
  private pinningCount(): number {
    return (
      this.db
        .prepare(
          `SELECT count(DISTINCT r.cid) AS n FROM replicas r JOIN pins p ON p.cid = r.cid
           WHERE r.state = 'copying' AND p.status = 'pinned'`,
        )
        .get() as { n: number }
    ).n
  }
}

/** The WHERE clause of a pin query, with its arguments. */
function filter(query: PinQuery): { where: string; args: (string | number)[] } {
  const where: string[] = []
  const args: (string | number)[] = []
  if (query.cids != null) {
    where.push('cid IN (SELECT value FROM json_each(?))')
    args.push(JSON.stringify(query.cids))
  }
  if (query.name != null) {
    const match = query.match ?? 'exact'
    if (match === 'exact') {
      where.push('name = ?')
      args.push(query.name)
    } else if (match === 'iexact') {
      where.push('lower(name) = lower(?)')
      args.push(query.name)
    } else {
      // instr, not LIKE: a % or _ in the name is matched as itself
      where.push(match === 'partial' ? 'instr(name, ?) > 0' : 'instr(lower(name), lower(?)) > 0')
      args.push(query.name)
    }
  }
  if (query.statuses != null) {
    const any = query.statuses.map((s) => {
      if (s === 'pinning') return `(status = 'pinned' AND ${COPYING})`
      if (s === 'pinned') return `(status = 'pinned' AND NOT ${COPYING})`
      args.push(s)
      return '(status = ?)'
    })
    where.push(`(${any.join(' OR ')})`)
  }
  for (const [key, value] of Object.entries(query.meta ?? {})) {
    where.push('json_extract(meta, ?) = ?')
    args.push(`$.${JSON.stringify(key)}`, value)
  }
  for (const [cursor, op] of [
    [query.before, '<'],
    [query.after, '>'],
  ] as const) {
    if (cursor == null) continue
    if (cursor.cid == null) {
      where.push(`created_at ${op} ?`)
      args.push(cursor.at)
    } else {
      where.push(`(created_at, cid) ${op} (?, ?)`)
      args.push(cursor.at, cursor.cid)
    }
  }
  return { where: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', args }
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
  origins: string | null
  meta: string | null
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
    origins: r.origins == null ? [] : (JSON.parse(r.origins) as string[]),
    meta: r.meta == null ? {} : (JSON.parse(r.meta) as Record<string, string>),
  }
}
