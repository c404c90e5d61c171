import type Database from 'better-sqlite3'
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

/** PRAGMA user_version once SCHEMA has been applied. */
const SCHEMA_VERSION = 1

/**
 * Creates the tables once. Many processes may open a new blockstore at once: the version is re-read
 * inside one write transaction (BEGIN IMMEDIATE), so the schema appears whole to everyone at one commit.
 */
function createSchema(db: Database.Database): void {
  const version = () => db.pragma('user_version', { simple: true }) as number
  if (version() >= SCHEMA_VERSION) return // the common case: no write lock taken
  db.transaction(() => {
    if (version() >= SCHEMA_VERSION) return
    db.exec(SCHEMA)
    db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }).immediate()
}

/**
 * The block index: multihash -> (pack, offset, length), in SQLite (WAL) so that many processes can
 * read and write it at once. A row is inserted only after its bytes are fsynced, so every row
 * points at durable data. The `writers` table and `generation` counter let GC see adds in flight.
 */
export class PackIndex {
  readonly db: Database.Database
  private readonly lookup: Database.Statement<[Uint8Array], BlockLocation>
  private readonly insert: Database.Statement<[Uint8Array, Uint8Array, number, number, number]>
  private readonly upsert: Database.Statement<[Uint8Array, Uint8Array, number, number, number]>
  private locateTx?: (mhs: readonly (Uint8Array | undefined)[]) => (BlockLocation | undefined)[]

  constructor(path: string) {
    this.db = openSqlite(path)
    // the busy timeout first: switching a new file to WAL takes a lock another opener may hold
    this.db.pragma('busy_timeout = 15000')
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = FULL')
    createSchema(this.db)
    this.keepTotals()
    this.lookup = this.db.prepare('SELECT pack, offset, length FROM blocks WHERE mh = ?')
    this.insert = this.db.prepare(
      'INSERT OR IGNORE INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)',
    )
    this.upsert = this.db.prepare(
      `INSERT INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(mh) DO UPDATE SET pack = excluded.pack, offset = excluded.offset, length = excluded.length`,
    )
  }

  locate(mh: Uint8Array): BlockLocation | undefined {
    return this.lookup.get(mh)
  }

  /**
   * locate() of several blocks in one read transaction: a statement outside one takes and drops
   * SQLite's shared lock on its own (fcntl calls and a look at the WAL index each time).
   */
  locateMany(mhs: readonly (Uint8Array | undefined)[]): (BlockLocation | undefined)[] {
    const each = (batch: readonly (Uint8Array | undefined)[]) =>
      batch.map((mh) => (mh == null ? undefined : this.lookup.get(mh)))
    this.locateTx ??= this.db.transaction(each)
    return mhs.length > 1 ? this.locateTx(mhs) : each(mhs)
  }

  /** Records durable blocks in one transaction; `replace` ones take the place of a corrupt copy. */
  record(entries: readonly (IndexEntry & { replace?: boolean })[]): void {
    this.db.transaction(() => {
      for (const e of entries)
        (e.replace ? this.upsert : this.insert).run(e.mh, e.cid, e.pack, e.offset, e.length)
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

  /** Blocks and their bytes from the running totals the triggers keep: no scan of the block rows. */
  totals(): { blocks: number; bytes: number } {
    const rows = this.db
      .prepare("SELECT key, value FROM meta WHERE key IN ('blocks', 'block_bytes')")
      .all() as { key: string; value: number }[]
    const get = (k: string) => rows.find((r) => r.key === k)?.value ?? 0
    return { blocks: get('blocks'), bytes: get('block_bytes') }
  }

  /**
   * Running totals of blocks and bytes, kept by triggers so that every writer (daemon, CLI, gc)
   * keeps them; an index made before them is counted once, in the transaction that adds them.
   */
  private keepTotals(): void {
    const has = () => this.db.prepare("SELECT 1 FROM meta WHERE key = 'blocks'").get() != null
    if (has()) return
    this.db
      .transaction(() => {
        if (has()) return
        this.db.exec(`
          INSERT INTO meta (key, value) SELECT 'blocks', count(*) FROM blocks;
          INSERT INTO meta (key, value) SELECT 'block_bytes', coalesce(sum(length), 0) FROM blocks;
          CREATE TRIGGER IF NOT EXISTS blocks_total_insert AFTER INSERT ON blocks BEGIN
            UPDATE meta SET value = value + 1 WHERE key = 'blocks';
            UPDATE meta SET value = value + new.length WHERE key = 'block_bytes';
          END;
          CREATE TRIGGER IF NOT EXISTS blocks_total_delete AFTER DELETE ON blocks BEGIN
            UPDATE meta SET value = value - 1 WHERE key = 'blocks';
            UPDATE meta SET value = value - old.length WHERE key = 'block_bytes';
          END;`)
      })
      .immediate()
  }

  delete(mh: Uint8Array): boolean {
    return this.db.prepare('DELETE FROM blocks WHERE mh = ?').run(mh).changes > 0
  }

  /** Every pack, with the pid that created it (one row per pack: never a scan of the blocks). */
  packList(): { id: number; pid: number }[] {
    return this.db.prepare('SELECT id, pid FROM packs ORDER BY id').all() as { id: number; pid: number }[]
  }

  /**
   * A pack's blocks and their bytes, counted over up to `limit` of its rows after `after` (multihash
   * order, served by blocks_by_pack): `last` is where the next page starts, absent at the end. A
   * caller counts a pack of any size in pages and yields between them, never in one long statement.
   */
  packTotalsPage(
    pack: number,
    after: Uint8Array | undefined,
    limit: number,
  ): { blocks: number; live: number; last?: Uint8Array } {
    const row = this.db
      .prepare(
        `SELECT count(*) AS blocks, coalesce(sum(length), 0) AS live, max(mh) AS last FROM
           (SELECT mh, length FROM blocks WHERE pack = ? AND mh > ? ORDER BY mh LIMIT ?)`,
      )
      .get(pack, after ?? new Uint8Array(0), limit) as {
      blocks: number
      live: number
      last: Uint8Array | null
    }
    return row.blocks < limit || row.last == null
      ? { blocks: row.blocks, live: row.live }
      : { blocks: row.blocks, live: row.live, last: row.last }
  }

  dropPack(id: number): void {
    this.db.prepare('DELETE FROM packs WHERE id = ?').run(id)
  }

  relocate(entries: readonly IndexEntry[]): void {
    const stmt = this.db.prepare('UPDATE blocks SET pack = ?, offset = ? WHERE mh = ?')
    this.db.transaction(() => {
      for (const e of entries) stmt.run(e.pack, e.offset, e.mh)
    })()
  }

  // ---- gc: marking on disk, sweeping in short transactions ----

  private markStmt: Database.Statement<[Uint8Array]> | undefined

  /**
   * Starts a mark: a temporary table of live multihashes on this connection, kept in a file (not
   * memory), so marking 10M blocks costs disk, not RAM. Other connections never see it.
   */
  beginMark(): void {
    this.db.pragma('temp_store = FILE')
    this.db.exec(
      'DROP TABLE IF EXISTS temp.gc_live; CREATE TEMP TABLE gc_live (mh BLOB PRIMARY KEY) WITHOUT ROWID;',
    )
    this.markStmt = this.db.prepare('INSERT OR IGNORE INTO temp.gc_live (mh) VALUES (?)')
  }

  /** Marks a block live; false when it already was (its DAG was walked). */
  markLive(mh: Uint8Array): boolean {
    if (this.markStmt == null) throw new Error('markLive() outside a mark')
    return this.markStmt.run(mh).changes > 0
  }

  /** Up to `limit` stored blocks after `after` (multihash order) that are not marked live. */
  unmarked(after: Uint8Array | undefined, limit: number): IndexEntry[] {
    return this.db
      .prepare(
        `SELECT mh, cid, pack, offset, length FROM blocks b
         WHERE b.mh > ? AND NOT EXISTS (SELECT 1 FROM temp.gc_live l WHERE l.mh = b.mh)
         ORDER BY b.mh LIMIT ?`,
      )
      .all(after ?? new Uint8Array(0), limit) as IndexEntry[]
  }

  /**
   * Deletes these rows in one short write transaction, only if no add is in flight (it may have
   * deduplicated against one of them) and none has finished since the mark (its pin may reach
   * them): otherwise nothing changes and the answer says which.
   */
  deleteIfQuiet(entries: readonly IndexEntry[], generation: number): 'deleted' | 'busy' | 'changed' {
    // never wait for the write lock here (a writer's commit holds it through an fsync): SQLite's busy
    // wait would block the event loop; the caller waits asynchronously and tries again instead
    this.db.pragma('busy_timeout = 0')
    try {
      return this.deleteNow(entries, generation)
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_BUSY') return 'busy'
      throw err
    } finally {
      this.db.pragma('busy_timeout = 15000')
    }
  }

  private deleteNow(entries: readonly IndexEntry[], generation: number): 'deleted' | 'busy' | 'changed' {
    return this.db
      .transaction(() => {
        for (const w of this.db.prepare('SELECT id, pid FROM writers').all() as {
          id: number
          pid: number
        }[]) {
          if (pidAlive(w.pid)) return 'busy'
          // a writer whose process died never committed a pin: forget it
          this.db.prepare('DELETE FROM writers WHERE id = ?').run(w.id)
        }
        if (this.generation() !== generation) return 'changed'
        const del = this.db.prepare('DELETE FROM blocks WHERE mh = ?')
        for (const e of entries) del.run(e.mh)
        return 'deleted'
      })
      .immediate() as 'deleted' | 'busy' | 'changed'
  }

  endMark(): void {
    this.markStmt = undefined
    this.db.exec('DROP TABLE IF EXISTS temp.gc_live')
  }

  /** Up to `limit` of a pack's blocks after `after` (multihash order). */
  entriesInPackPage(pack: number, after: Uint8Array | undefined, limit: number): IndexEntry[] {
    return this.db
      .prepare(
        'SELECT mh, cid, pack, offset, length FROM blocks WHERE pack = ? AND mh > ? ORDER BY mh LIMIT ?',
      )
      .all(pack, after ?? new Uint8Array(0), limit) as IndexEntry[]
  }

  close(): void {
    this.db.close()
  }
}
