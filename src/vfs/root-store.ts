import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import { BusyError, NativeAddonError, RepoError } from '../errors.ts'
import { openSqlite } from '../state/sqlite.ts'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS root (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  cid TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`

/** Where the VFS keeps its root: `<data>/vfs/vfs.db`, its own small SQLite file (no state.db migration). */
export function vfsDbPath(dataDir: string): string {
  return join(dataDir, 'vfs', 'vfs.db')
}

/** How long a mutation waits for another process's mutation before giving up. */
export const DEFAULT_LOCK_TIMEOUT_MS = 120_000

/**
 * The persisted VFS root and the lock that serialises mutations across processes. A mutation runs
 * inside one SQLite `BEGIN IMMEDIATE` transaction (the database's single write lock, released by
 * the OS if the process dies): it reads the root, writes and commits its blocks, then updates the
 * root and commits. A crash at any point leaves the previous root; readers (WAL) never wait.
 */
export class RootStore {
  private readonly db: Database.Database

  constructor(dataDir: string) {
    const dir = join(dataDir, 'vfs')
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      this.db = openSqlite(join(dir, 'vfs.db'))
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = FULL')
      // waiting happens in lock(), asynchronously; a statement never blocks the event loop for long
      this.db.pragma('busy_timeout = 1000')
      this.db.exec(SCHEMA)
    } catch (err) {
      if (err instanceof NativeAddonError) throw err
      throw new RepoError(`cannot open the VFS database in ${dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The current root, or undefined before the first mutation. */
  current(): CID | undefined {
    const row = this.db.prepare('SELECT cid FROM root WHERE id = 1').get() as { cid: string } | undefined
    return row == null ? undefined : CID.parse(row.cid)
  }

  /** Takes the cross-process write lock, polling without blocking the event loop, until `timeoutMs`. */
  async lock(timeoutMs = DEFAULT_LOCK_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let wait = 5
    this.db.pragma('busy_timeout = 0')
    try {
      for (;;) {
        try {
          this.db.exec('BEGIN IMMEDIATE')
          return
        } catch (err) {
          if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err
          if (Date.now() >= deadline)
            throw new BusyError(
              `another process has been changing the VFS for ${Math.round(timeoutMs / 1000)} s: try again when it has finished`,
            )
          await new Promise((r) => setTimeout(r, wait))
          wait = Math.min(wait * 2, 100)
        }
      }
    } finally {
      this.db.pragma('busy_timeout = 1000')
    }
  }

  /** Records the new root and releases the lock: durable on return (synchronous = FULL). */
  commit(root: CID): void {
    this.db
      .prepare(
        'INSERT INTO root (id, cid, updated_at) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET cid = excluded.cid, updated_at = excluded.updated_at',
      )
      .run(root.toString(), Date.now())
    this.db.exec('COMMIT')
  }

  /** Releases the lock, changing nothing. */
  rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK')
  }

  close(): void {
    this.rollback()
    this.db.close()
  }
}

/**
 * The VFS root recorded in a data directory, read without taking any lock (gc treats it as a
 * root). Undefined when the VFS was never used.
 */
export function readVfsRoot(dataDir: string): CID | undefined {
  const path = vfsDbPath(dataDir)
  if (!existsSync(path)) return undefined
  const db = openSqlite(path, { fileMustExist: true })
  try {
    db.pragma('busy_timeout = 15000')
    const row = db.prepare('SELECT cid FROM root WHERE id = 1').get() as { cid: string } | undefined
    return row == null ? undefined : CID.parse(row.cid)
  } catch (err) {
    if (/no such table/.test((err as Error).message)) return undefined
    throw err
  } finally {
    db.close()
  }
}
