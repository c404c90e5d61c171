import { setImmediate as nextTurn } from 'node:timers'
import type Database from 'better-sqlite3'

interface Pending {
  write: () => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

/**
 * Commits the writes that arrive in one turn of the event loop in one transaction: one fsync
 * (state.db is synchronous=FULL) for all of them instead of one each, as a database's group commit
 * does. Under 100 clients adding pins, a commit per request held the event loop in fsync for most
 * of every second. Each write runs in its own savepoint, so one that throws is rolled back alone and
 * only its caller gets the error. A caller's promise settles after the commit, never before: an
 * answer sent then is durable.
 */
export class GroupCommit {
  private queue: Pending[] = []

  constructor(private readonly db: Database.Database) {}

  /** Runs `write` (synchronous SQL) inside the next group's transaction; resolves once committed. */
  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.queue.length === 0) nextTurn(() => this.flush())
      this.queue.push({ write, resolve: resolve as (value: unknown) => void, reject })
    })
  }

  private flush(): void {
    const batch = this.queue
    this.queue = []
    const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = []
    try {
      this.db
        .transaction(() => {
          for (const p of batch) {
            try {
              // a nested transaction is a savepoint: a write that throws undoes only itself
              results.push({ ok: true, value: this.db.transaction(p.write)() })
            } catch (error) {
              results.push({ ok: false, error })
            }
          }
        })
        .immediate()
    } catch (error) {
      // the commit itself failed (a full disk, say): nothing of the group is there
      for (const p of batch) p.reject(error)
      return
    }
    batch.forEach((p, i) => {
      const r = results[i]!
      if (r.ok) p.resolve(r.value)
      else p.reject(r.error)
    })
  }
}
