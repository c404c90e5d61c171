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
  // 2: the daemon's state: pin policy and status, replicas per backend, health history.
  `ALTER TABLE pins ADD COLUMN status TEXT NOT NULL DEFAULT 'pinned'
     CHECK (status IN ('queued', 'pinned', 'failed'));
   ALTER TABLE pins ADD COLUMN size INTEGER;
   ALTER TABLE pins ADD COLUMN min_replicas INTEGER;
   ALTER TABLE pins ADD COLUMN max_replicas INTEGER;
   ALTER TABLE pins ADD COLUMN preferred TEXT;
   ALTER TABLE pins ADD COLUMN excluded TEXT;
   ALTER TABLE pins ADD COLUMN error TEXT;
   ALTER TABLE pins ADD COLUMN updated_at INTEGER;
   CREATE TABLE replicas (
     cid TEXT NOT NULL REFERENCES pins(cid) ON DELETE CASCADE,
     backend TEXT NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('copying', 'verified', 'failed', 'lost')),
     verified_at INTEGER,
     updated_at INTEGER NOT NULL,
     error TEXT,
     PRIMARY KEY (cid, backend)
   ) WITHOUT ROWID;
   CREATE INDEX replicas_by_backend ON replicas(backend, state);
   CREATE TABLE health (
     backend TEXT NOT NULL,
     at INTEGER NOT NULL,
     status TEXT NOT NULL,
     latency_ms REAL NOT NULL,
     free_bytes INTEGER,
     used_bytes INTEGER,
     error TEXT
   );
   CREATE INDEX health_by_backend ON health(backend, at);
   CREATE TABLE backend_state (
     name TEXT PRIMARY KEY,
     desired TEXT NOT NULL CHECK (desired IN ('running', 'stopped'))
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
