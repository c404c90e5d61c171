import type Database from 'better-sqlite3'
import { NativeAddonError, RepoError } from '../errors.ts'
import { openSqlite } from './sqlite.ts'

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
  // 3: pins clustered by CID (WITHOUT ROWID): publishing the index scans pins in CID order, which on
  // a rowid table is a random lookup per pin (1M pins: 2.5 s -> 1.0 s for the scan)
  `CREATE TABLE pins_by_cid (
     cid TEXT PRIMARY KEY,
     type TEXT NOT NULL CHECK (type IN ('recursive', 'direct')),
     name TEXT,
     created_at INTEGER NOT NULL,
     status TEXT NOT NULL DEFAULT 'pinned' CHECK (status IN ('queued', 'pinned', 'failed')),
     size INTEGER,
     min_replicas INTEGER,
     max_replicas INTEGER,
     preferred TEXT,
     excluded TEXT,
     error TEXT,
     updated_at INTEGER
   ) WITHOUT ROWID;
   INSERT INTO pins_by_cid SELECT cid, type, name, created_at, status, size, min_replicas, max_replicas,
     preferred, excluded, error, updated_at FROM pins;
   DROP TABLE pins;
   ALTER TABLE pins_by_cid RENAME TO pins;`,
  // 4: every GET bounded. Counts kept by triggers (no OR IGNORE inside them: an upsert's own conflict
  // handling overrides it, and the insert would fail) (any writer, the CLI too), so status pages read a
  // few rows instead of scanning a million pins; indexes for paging newest first (the Pinning
  // Service API's order), filtering by name, and finding the pins with a copy in flight.
  `CREATE INDEX pins_by_created ON pins(created_at, cid);
   CREATE INDEX pins_by_name ON pins(name) WHERE name IS NOT NULL;
   CREATE INDEX replicas_by_state ON replicas(state, cid);
   CREATE TABLE pin_counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO pin_counts (status, n) VALUES ('queued', 0), ('pinned', 0), ('failed', 0);
   UPDATE pin_counts SET n = (SELECT count(*) FROM pins WHERE pins.status = pin_counts.status);
   CREATE TRIGGER pin_counts_insert AFTER INSERT ON pins BEGIN
     UPDATE pin_counts SET n = n + 1 WHERE status = new.status;
   END;
   CREATE TRIGGER pin_counts_delete AFTER DELETE ON pins BEGIN
     UPDATE pin_counts SET n = n - 1 WHERE status = old.status;
   END;
   CREATE TRIGGER pin_counts_update AFTER UPDATE OF status ON pins WHEN old.status <> new.status BEGIN
     UPDATE pin_counts SET n = n - 1 WHERE status = old.status;
     UPDATE pin_counts SET n = n + 1 WHERE status = new.status;
   END;
   CREATE TABLE replica_counts (
     backend TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (backend, state)
   ) WITHOUT ROWID;
   INSERT INTO replica_counts (backend, state, n)
     SELECT backend, state, count(*) FROM replicas GROUP BY backend, state;
   CREATE TRIGGER replica_counts_insert AFTER INSERT ON replicas BEGIN
     INSERT INTO replica_counts (backend, state, n) SELECT new.backend, new.state, 0
       WHERE NOT EXISTS (SELECT 1 FROM replica_counts WHERE backend = new.backend AND state = new.state);
     UPDATE replica_counts SET n = n + 1 WHERE backend = new.backend AND state = new.state;
   END;
   CREATE TRIGGER replica_counts_delete AFTER DELETE ON replicas BEGIN
     UPDATE replica_counts SET n = n - 1 WHERE backend = old.backend AND state = old.state;
   END;
   CREATE TRIGGER replica_counts_update AFTER UPDATE OF backend, state ON replicas
     WHEN old.backend <> new.backend OR old.state <> new.state BEGIN
     UPDATE replica_counts SET n = n - 1 WHERE backend = old.backend AND state = old.state;
     INSERT INTO replica_counts (backend, state, n) SELECT new.backend, new.state, 0
       WHERE NOT EXISTS (SELECT 1 FROM replica_counts WHERE backend = new.backend AND state = new.state);
     UPDATE replica_counts SET n = n + 1 WHERE backend = new.backend AND state = new.state;
   END;`,
  // 5: the Pinning Service API's origins (multiaddrs to fetch the content from) and meta of a pin
  `ALTER TABLE pins ADD COLUMN origins TEXT;
   ALTER TABLE pins ADD COLUMN meta TEXT;`,
  // 6: what a backend says of a replica beyond its state (a cluster's "pinned on 2 of 2 cluster peers")
  `ALTER TABLE replicas ADD COLUMN detail TEXT;`,
  // 7: where the reconciler's full pass had got to, so a restart resumes it instead of starting over
  `CREATE TABLE pass_cursor (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     cursor TEXT NOT NULL,
     verify INTEGER NOT NULL,
     saved_at INTEGER NOT NULL
   );`,
  // 8: gc's re-mark walks the pins made or changed since its mark: by index, not a scan of every pin
  // (a scan per sweep batch beside a busy writer made a 400k-block gc take 46 s instead of ~8)
  `CREATE INDEX pins_by_updated ON pins(updated_at) WHERE updated_at IS NOT NULL;`,
]

export type StateDb = Database.Database

/** Opens `<data>/state.db` (WAL, full fsync on commit) and brings its schema up to date. */
export function openStateDb(path: string): StateDb {
  let db: Database.Database
  try {
    db = openSqlite(path)
    // the busy timeout first: switching a new file to WAL takes a lock another opener may hold
    db.pragma('busy_timeout = 15000')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
  } catch (err) {
    if (err instanceof NativeAddonError) throw err
    throw new RepoError(`cannot open the state database ${path}: ${(err as Error).message}`, { cause: err })
  }
  try {
    migrate(db)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

function schemaVersion(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new RepoError(
      `state database schema version ${current} is newer than this ipfs-kit understands (${MIGRATIONS.length}): upgrade ipfs-kit`,
    )
  }
  return current
}

/**
 * Brings the schema up to date. Many processes may open a new directory at once (a script starting
 * several `ipfs add`s), so the version that decides which migrations run is read inside the same
 * write transaction (BEGIN IMMEDIATE) that applies them: the first opener migrates, the others wait
 * for its commit and then find nothing left to do.
 */
function migrate(db: Database.Database): void {
  if (schemaVersion(db) === MIGRATIONS.length) return // the common case: no write lock taken
  // table rebuilds must not cascade deletes through foreign keys; the pragma only changes outside a transaction
  db.pragma('foreign_keys = OFF')
  try {
    db.transaction(() => {
      const current = schemaVersion(db)
      for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!)
      const broken = db.pragma('foreign_key_check') as unknown[]
      if (broken.length > 0)
        throw new RepoError(`state database migration left ${broken.length} dangling references`)
      db.pragma(`user_version = ${MIGRATIONS.length}`)
    }).immediate()
  } finally {
    db.pragma('foreign_keys = ON')
  }
}
