import type { StateDb } from './db.ts'

/**
 * One page of pins in CID order after `after`, and which of them changed since `since` (ms): lets
 * the daemon find the pins another process (the CLI's add) wrote, a bounded page at a time, without
 * an index on `updated_at` and without a pass that reconciles every pin.
 */
export function pinsChangedSince(
  db: StateDb,
  since: number,
  after: string | undefined,
  limit: number,
): { changed: string[]; last: string | undefined } {
  const rows = db
    .prepare('SELECT cid, updated_at FROM pins WHERE cid > ? ORDER BY cid LIMIT ?')
    .all(after ?? '', limit) as { cid: string; updated_at: number | null }[]
  return {
    changed: rows.filter((r) => r.updated_at != null && r.updated_at >= since).map((r) => r.cid),
    last: rows.at(-1)?.cid,
  }
}
