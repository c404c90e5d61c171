import Database from 'better-sqlite3'
import { RepoError } from '../errors.ts'

/**
 * Schema migrations, applied in order; PRAGMA user_version records how many have run.
 * Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE pins (
     cid TEXT PRIMARY KEY,
     type TEXT NOT NULL CHECK (type IN ('recursive', 'direct')),
     name TEXT,
     created_at INTEGER NOT NULL
   );`,
]

export type StateDb = Database.Database

/** Opens `<data>/state.db` (WAL, full fsync on commit) and brings its schema up to date. */
export function openStateDb(path: string): StateDb {
  let db: Database.Database
  try {
    db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 15000')
    db.pragma('foreign_keys = ON')
  } catch (err) {
    throw new RepoError(`cannot open the state database ${path}: ${(err as Error).message}`, { cause: err })
  }
  migrate(db)
  return db
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new RepoError(
      `state database schema version ${current} is newer than this ipfs-kit understands (${MIGRATIONS.length}): upgrade ipfs-kit`,
    )
  }
  db.transaction(() => {
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!)
    db.pragma(`user_version = ${MIGRATIONS.length}`)
  }).immediate()
}
