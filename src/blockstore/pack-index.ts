import type Database from 'better-sqlite3'
import { BusyError } from '../errors.ts'
import { pidAlive } from '../fs-utils.ts'
import { openSqlite } from '../state/sqlite.ts'

/** Where a block's bytes live: a byte range in one pack file. */
export interface BlockLocation {
  pack: number
  offset: number
  length: number
}

export interface IndexEntry extends BlockLocation {
  mh: Uint8Array
  cid: Uint8Array
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS packs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pid INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
  mh BLOB PRIMARY KEY,
  cid BLOB NOT NULL,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  length INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_by_pack ON blocks(pack);
CREATE TABLE IF NOT EXISTS writers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', 0);
`

/**
 * The block index: multihash -> (pack, offset, length), in SQLite (WAL) so that many processes can
 * read and write it at once. A row is inserted only after its bytes are fsynced, so every row
 * points at durable data. The `writers` table and `generation` counter let GC see adds in flight.
 */
export class PackIndex {
  readonly db: Database.Database
  private readonly lookup: Database.Statement<[Uint8Array], BlockLocation>
  private readonly insert: Database.Statement<[Uint8Array, Uint8Array, number, number, number]>

  constructor(path: string) {
    this.db = openSqlite(path)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    this.db.pragma('busy_timeout = 15000')
    this.db.exec(SCHEMA)
    this.lookup = this.db.prepare('SELECT pack, offset, length FROM blocks WHERE mh = ?')
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)',
    )
  }

  locate(mh: Uint8Array): BlockLocation | undefined {
    return this.lookup.get(mh)
  }

  /** Records durable blocks in one transaction. */
  record(entries: readonly IndexEntry[]): void {
    this.db.transaction(() => {
      for (const e of entries) this.insert.run(e.mh, e.cid, e.pack, e.offset, e.length)
    })()
  }

  newPack(): number {
    const info = this.db
      .prepare('INSERT INTO packs (pid, created_at) VALUES (?, ?)')
      .run(process.pid, Date.now())
    return Number(info.lastInsertRowid)
  }

  /** Registers an add in flight, so that GC will not delete blocks it deduplicated against. */
  registerWriter(): number {
    const info = this.db
      .prepare('INSERT INTO writers (pid, started_at) VALUES (?, ?)')
      .run(process.pid, Date.now())
    return Number(info.lastInsertRowid)
  }

  /** Ends an add; bumping the generation tells a concurrent GC its pin snapshot may be stale. */
  unregisterWriter(id: number): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM writers WHERE id = ?').run(id)
      this.db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'generation'").run()
    })()
  }

  generation(): number {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'generation'").get() as { value: number }
    return row.value
  }

  /**
   * Runs `fn` in a write transaction that first proves no add is in flight and the generation is
   * unchanged since `expected`; otherwise throws BusyError and changes nothing.
   */
  exclusive<T>(expected: number, fn: () => T): T {
    return this.db
      .transaction(() => {
        const writers = this.db.prepare('SELECT id, pid FROM writers').all() as { id: number; pid: number }[]
        for (const w of writers) {
          if (pidAlive(w.pid)) {
            throw new BusyError(`an add is in progress (pid ${w.pid}): run gc again when it has finished`)
          }
          this.db.prepare('DELETE FROM writers WHERE id = ?').run(w.id)
        }
        if (this.generation() !== expected) {
          throw new BusyError('content was added while gc was scanning pins: run gc again')
        }
        return fn()
      })
      .immediate()
  }

  *entries(): Generator<IndexEntry> {
    const stmt = this.db.prepare('SELECT mh, cid, pack, offset, length FROM blocks')
    for (const row of stmt.iterate() as Iterable<IndexEntry>) yield row
  }

  count(): { blocks: number; bytes: number } {
    const row = this.db
      .prepare('SELECT count(*) AS blocks, coalesce(sum(length), 0) AS bytes FROM blocks')
      .get() as {
      blocks: number
      bytes: number
    }
    return row
  }

  delete(mh: Uint8Array): boolean {
    return this.db.prepare('DELETE FROM blocks WHERE mh = ?').run(mh).changes > 0
  }

  /** Live bytes per pack, with the pid that created it. */
  packs(): { id: number; pid: number; live: number; blocks: number }[] {
    return this.db
      .prepare(
        `SELECT p.id, p.pid, coalesce(sum(b.length), 0) AS live, count(b.mh) AS blocks
         FROM packs p LEFT JOIN blocks b ON b.pack = p.id GROUP BY p.id`,
      )
      .all() as { id: number; pid: number; live: number; blocks: number }[]
  }

  dropPack(id: number): void {
    this.db.prepare('DELETE FROM packs WHERE id = ?').run(id)
  }

  entriesInPack(pack: number): IndexEntry[] {
    return this.db
      .prepare('SELECT mh, cid, pack, offset, length FROM blocks WHERE pack = ?')
      .all(pack) as IndexEntry[]
  }

  relocate(entries: readonly IndexEntry[]): void {
    const stmt = this.db.prepare('UPDATE blocks SET pack = ?, offset = ? WHERE mh = ?')
    this.db.transaction(() => {
      for (const e of entries) stmt.run(e.pack, e.offset, e.mh)
    })()
  }

  close(): void {
    this.db.close()
  }
}
