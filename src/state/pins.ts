import type { CID } from 'multiformats/cid'
import type { StateDb } from './db.ts'

export type PinType = 'recursive' | 'direct'

export interface PinRecord {
  cid: string
  type: PinType
  name: string | null
  createdAt: number
}

/** The pin set in state.db. A recursive pin keeps a whole DAG, a direct pin one block. */
export class PinStore {
  private readonly db: StateDb

  constructor(db: StateDb) {
    this.db = db
  }

  /** Records a pin (durably, on return); a recursive pin replaces a direct one. */
  add(cid: CID, type: PinType = 'recursive', name?: string): void {
    this.db
      .prepare(
        `INSERT INTO pins (cid, type, name, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT(cid) DO UPDATE SET
           type = CASE WHEN pins.type = 'recursive' THEN 'recursive' ELSE excluded.type END,
           name = coalesce(excluded.name, pins.name)`,
      )
      .run(cid.toString(), type, name ?? null, Date.now())
  }

  remove(cid: CID): boolean {
    return this.db.prepare('DELETE FROM pins WHERE cid = ?').run(cid.toString()).changes > 0
  }

  get(cid: CID): PinRecord | undefined {
    const row = this.db
      .prepare('SELECT cid, type, name, created_at FROM pins WHERE cid = ?')
      .get(cid.toString()) as PinRow | undefined
    return row == null ? undefined : fromRow(row)
  }

  list(): PinRecord[] {
    const rows = this.db
      .prepare('SELECT cid, type, name, created_at FROM pins ORDER BY cid')
      .all() as PinRow[]
    return rows.map(fromRow)
  }
}

interface PinRow {
  cid: string
  type: PinType
  name: string | null
  created_at: number
}

function fromRow(r: PinRow): PinRecord {
  return { cid: r.cid, type: r.type, name: r.name, createdAt: r.created_at }
}
