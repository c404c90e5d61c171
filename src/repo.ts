import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { PackStore } from './blockstore/pack-store.ts'
import type { Config } from './config/config.ts'
import { configOf } from './config/defaults.ts'
import { RepoError } from './errors.ts'
import { openStateDb, type StateDb } from './state/db.ts'
import { PinStore } from './state/pins.ts'
import { ReplicaStore } from './state/replicas.ts'

/**
 * An open data directory: the blockstore, the state database and the config. Content commands,
 * the daemon and the server each open one; many may be open on the same directory at once.
 */
export class Repo {
  readonly dir: string
  readonly config: Config
  readonly blocks: PackStore
  private state: { db: StateDb; pins: PinStore; replicas: ReplicaStore } | undefined

  private constructor(dir: string, config: Config, blocks: PackStore) {
    this.dir = dir
    this.config = config
    this.blocks = blocks
  }

  /**
   * Opens the data directory, creating it on first use; a clear RepoError if it is unusable. The
   * config is the directory's own unless given (the CLI gives it: see `withRepo`).
   */
  static open(dir: string, config?: Config): Repo {
    ensureWritableDir(dir)
    config ??= configOf(dir)
    const blocks = PackStore.open(join(dir, 'blocks'))
    blocks.hashOnRead = config.hash_on_read
    return new Repo(dir, config, blocks)
  }

  /** The state database, opened on first use: reading content never needs it. */
  get db(): StateDb {
    return this.openState().db
  }

  get pins(): PinStore {
    return this.openState().pins
  }

  get replicas(): ReplicaStore {
    return this.openState().replicas
  }

  private openState(): { db: StateDb; pins: PinStore; replicas: ReplicaStore } {
    if (this.state == null) {
      const db = openStateDb(join(this.dir, 'state.db'))
      this.state = { db, pins: new PinStore(db), replicas: new ReplicaStore(db) }
    }
    return this.state
  }

  async close(): Promise<void> {
    await this.blocks.close()
    this.state?.db.close()
    this.state = undefined
  }
}

/** Creates the data directory on first use; a clear RepoError if it is not a usable directory. */
export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    if (!statSync(dir).isDirectory()) throw new Error('not a directory')
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK)
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new RepoError(
      `data directory ${dir} is not usable (${reason}): check its permissions or pass --data-dir`,
      {
        cause: err,
      },
    )
  }
}

/** The name of the always-present backend: the embedded node on `<data>/blocks`. */
export const LOCAL_BACKEND = 'local'

/**
 * Records a pin whose whole DAG was just written (and hashed) into the local blockstore: pinned,
 * with a verified replica on `local`. One transaction, durable on return.
 */
export function recordLocalPin(repo: Repo, cid: string, name?: string): void {
  repo.db.transaction(() => {
    repo.pins.add(cid, { status: 'pinned', name })
    repo.replicas.set(cid, LOCAL_BACKEND, 'verified')
  })()
}
