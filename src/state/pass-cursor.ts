import type { StateDb } from './db.ts'

/** Where a full replication pass had got to: the last CID done, and whether it verified. */
export interface SavedPass {
  cursor: string
  verify: boolean
  savedAt: number
}

/**
 * The reconciler's full-pass cursor in state.db: saved after every slice, cleared when a pass ends,
 * read once at start so that a daemon restarted in the middle of a pass over a million pins goes
 * on from there instead of starting over (IPFS Cluster's state sync restarts; ours need not).
 */
export class PassCursorStore {
  constructor(private readonly db: StateDb) {}

  load(): SavedPass | undefined {
    const row = this.db.prepare('SELECT cursor, verify, saved_at FROM pass_cursor WHERE id = 1').get() as
      | { cursor: string; verify: number; saved_at: number }
      | undefined
    return row == null ? undefined : { cursor: row.cursor, verify: row.verify === 1, savedAt: row.saved_at }
  }

  save(cursor: string, verify: boolean): void {
    this.db
      .prepare(
        'INSERT INTO pass_cursor (id, cursor, verify, saved_at) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET cursor = excluded.cursor, verify = excluded.verify, saved_at = excluded.saved_at',
      )
      .run(cursor, verify ? 1 : 0, Date.now())
  }

  clear(): void {
    this.db.prepare('DELETE FROM pass_cursor').run()
  }
}
