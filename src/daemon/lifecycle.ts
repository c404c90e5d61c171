import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import { BusyError, IpfsKitError, NativeAddonError, RepoError } from '../errors.ts'
import { pidAlive } from '../fs-utils.ts'
import { openSqlite } from '../state/sqlite.ts'

/**
 * Who holds a data directory's lock: the daemon (`daemon.lock`) or the server (`server.lock`), one
 * of each per directory, both locked and proven the same way.
 */
export type Role = 'daemon' | 'server'

/** The lock, pid and URL files of a role, and where its API answers with its pid and nonce. */
export function roleFiles(dataDir: string, role: Role) {
  if (role === 'daemon') return { ...daemonFiles(dataDir), health: '/health' }
  return {
    lock: join(dataDir, 'server.lock'),
    pid: join(dataDir, 'server.pid'),
    /** The running server's URL, like the daemon's `<data>/api`. */
    api: join(dataDir, 'server-api'),
    health: '/api/health',
  }
}

/** The files a running daemon keeps in its data directory. */
export function daemonFiles(dataDir: string) {
  return {
    /** The one-daemon lock: an (empty) SQLite file the daemon holds an exclusive lock on for its life. */
    lock: join(dataDir, 'daemon.lock'),
    /** `<pid>\n<instance>\n`: who holds the lock, and the nonce of this start that its API answers with. */
    pid: join(dataDir, 'daemon.pid'),
    /** Like Kubo's $IPFS_PATH/api: the URL of the running daemon, for every client on this directory. */
    api: join(dataDir, 'api'),
    token: join(dataDir, 'api-token'),
  }
}

/** The lock a daemon holds on its data directory while it runs. */
export interface DaemonLock {
  /** A random nonce for this start: in the pid file, and in every /health answer. */
  readonly instance: string
  /** Lets go of the lock (the kernel does the same when the process dies, however it dies). */
  release(): void
}

/**
 * Takes the one-daemon-per-directory lock, as Kubo's repo.lock does: an OS lock held for the
 * process's life and dropped by the kernel when it exits, even by `kill -9`, so there is no stale
 * lock to clean up and no check-then-remove race. The lock is SQLite's own (POSIX fcntl) EXCLUSIVE
 * lock on `daemon.lock`, held by a transaction that stays open until release: better-sqlite3 is
 * already here and well tested, where a flock() binding would be one more native add-on to build.
 * The file stays empty; nothing in this process may open it with plain fs calls (closing any
 * descriptor of a file drops the process's fcntl locks on it).
 */
export function acquireLock(dataDir: string, role: Role = 'daemon'): DaemonLock {
  const files = roleFiles(dataDir, role)
  const db = openLock(files.lock, role)
  const instance = randomBytes(16).toString('hex')
  try {
    // whatever a killed daemon left is stale now that we hold the lock
    rmSync(files.api, { force: true })
    writeAtomic(files.pid, `${process.pid}\n${instance}\n`)
  } catch (err) {
    db.close()
    throw err
  }
  let held = true
  return {
    instance,
    release() {
      if (!held) return
      held = false
      if (readPidFile(dataDir, role)?.instance === instance) rmSync(files.pid, { force: true })
      db.close() // closing the connection ends the transaction and lets go of the lock
    },
  }
}

/** How long a starter waits on a held lock before it says who holds it. */
const LOCK_WAIT_MS = 2000

function openLock(lock: string, role: Role): Database.Database {
  for (let attempt = 0; ; attempt++) {
    let db: Database.Database | undefined
    try {
      // a `daemon status` or `stop` probing the lock holds it for microseconds: wait that out, but
      // not better-sqlite3's default 5 s, which every statement (the open's own pragma too) waits
      db = openSqlite(lock, { timeout: LOCK_WAIT_MS })
      // nothing is ever written: no rollback journal, so a killed daemon leaves no journal behind
      db.pragma('journal_mode = MEMORY')
      db.exec('BEGIN EXCLUSIVE')
      return db
    } catch (err) {
      db?.close()
      if (err instanceof NativeAddonError) throw err // already one line with the fix
      const code = (err as { code?: string }).code
      const dir = join(lock, '..')
      if (code === 'SQLITE_BUSY') {
        const pid = readPidFile(dir, role)?.pid
        throw new BusyError(
          `a ${role} is already running on ${dir}${pid == null ? '' : ` (pid ${pid})`}: stop it with \`ipfs-kit ${role} stop\``,
        )
      }
      if (code === 'SQLITE_NOTADB' && attempt < 2 && clearLegacyLock(lock)) continue
      throw new RepoError(`cannot take the ${role} lock ${lock}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/**
 * Versions before the OS lock wrote `<pid>\n` into daemon.lock. Such a file whose pid is gone is
 * emptied (never removed: a new daemon may already hold the path's lock, and its file is empty, so
 * emptying it again changes nothing). A live pid is an older daemon that still runs: refused. A file
 * found empty was emptied by a starter racing this one since SQLite read it: worth one more try.
 */
function clearLegacyLock(lock: string): boolean {
  let text: string
  try {
    text = readFileSync(lock, 'utf8')
  } catch {
    return false
  }
  if (text === '') return true
  const match = /^(\d+)\n?$/.exec(text)
  if (match == null) return false
  const pid = Number(match[1])
  if (pidAlive(pid)) {
    throw new BusyError(
      `a daemon of an older ipfs-kit may be running on ${join(lock, '..')} (pid ${pid}): stop it first`,
    )
  }
  truncateSync(lock, 0)
  return true
}

/**
 * True while a daemon holds this directory's lock. Probes with a shared lock for an instant (a
 * read-only connection), which never blocks a daemon that already runs.
 */
export function lockHeld(dataDir: string, role: Role = 'daemon'): boolean {
  const { lock } = roleFiles(dataDir, role)
  if (!existsSync(lock)) return false
  let db: Database.Database | undefined
  try {
    // timeout 0: the open's own pragma would otherwise wait out better-sqlite3's default 5 s
    db = openSqlite(lock, { readonly: true, fileMustExist: true, timeout: 0 })
    db.prepare('SELECT count(*) FROM sqlite_master').get()
    return false
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'SQLITE_BUSY') return true
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_NOTADB') return false // gone, or an older version's file
    throw err
  } finally {
    db?.close()
  }
}

/** The pid file: who took the lock last, and the nonce of that start. Only proof together with the API. */
export function readPidFile(
  dataDir: string,
  role: Role = 'daemon',
): { pid: number; instance: string } | undefined {
  let text: string
  try {
    text = readFileSync(roleFiles(dataDir, role).pid, 'utf8')
  } catch {
    return undefined
  }
  const [pidLine, instance] = text.split('\n')
  const pid = Number(pidLine)
  if (!Number.isSafeInteger(pid) || pid <= 0 || instance == null || !/^[0-9a-f]{32}$/.test(instance))
    return undefined
  return { pid, instance }
}

/** The running daemon's URL from `<data>/api`, if any. */
export function apiUrl(dataDir: string, role: Role = 'daemon'): string | undefined {
  const { api } = roleFiles(dataDir, role)
  if (!existsSync(api)) return undefined
  const url = readFileSync(api, 'utf8').trim()
  return url === '' ? undefined : url
}

/** A daemon proven to be this directory's: it holds the lock, and its API answers with the pid file's pid and nonce. */
export interface ProvenDaemon {
  pid: number
  instance: string
  url: string
}

/** What is known about this directory's daemon: none, one that answers as itself, or a lock holder that does not (yet). */
export type DaemonPresence =
  | { state: 'stopped' }
  | { state: 'running'; daemon: ProvenDaemon }
  | { state: 'unproven'; reason: string }

/** `Authorization: Bearer <token>` from `<data>/api-token`, or nothing when there is no token yet. */
export function bearerHeaders(dataDir: string): Record<string, string> {
  try {
    const token = readFileSync(daemonFiles(dataDir).token, 'utf8').trim()
    return token === '' ? {} : { authorization: `Bearer ${token}` }
  } catch {
    return {}
  }
}

/**
 * Finds this directory's daemon without trusting any file alone: a pid file or api file left by
 * a killed daemon (whose pid may now belong to anyone) proves nothing, so nobody is ever signalled
 * on its word. Running means: the lock is held, and `GET /health` at the api URL answers with the
 * pid and the per-start nonce the pid file holds.
 */
export async function findDaemon(dataDir: string, role: Role = 'daemon'): Promise<DaemonPresence> {
  if (!lockHeld(dataDir, role)) return { state: 'stopped' }
  const record = readPidFile(dataDir, role)
  const url = apiUrl(dataDir, role)
  if (record == null || url == null)
    return { state: 'unproven', reason: 'it holds the lock but has not written its pid and URL yet' }
  let answer: { pid?: unknown; instance?: unknown }
  try {
    const res = await fetch(`${url}${roleFiles(dataDir, role).health}`, {
      // bound to a public address, every route needs the token (this user can read it)
      headers: bearerHeaders(dataDir),
      signal: AbortSignal.timeout(5000),
    })
    answer = (await res.json()) as typeof answer
  } catch (err) {
    return { state: 'unproven', reason: `its API at ${url} does not answer (${(err as Error).message})` }
  }
  if (answer.pid !== record.pid || answer.instance !== record.instance)
    return { state: 'unproven', reason: `the API at ${url} is another ${role}'s (pid ${String(answer.pid)})` }
  return { state: 'running', daemon: { pid: record.pid, instance: record.instance, url } }
}

/**
 * The proven daemon of this directory, waiting up to `ms` for one that is still starting. Undefined
 * when none runs; ERR_BUSY when something holds the lock but never proves itself.
 */
export async function provenDaemon(
  dataDir: string,
  ms = 10_000,
  role: Role = 'daemon',
): Promise<ProvenDaemon | undefined> {
  const deadline = Date.now() + ms
  for (;;) {
    const found = await findDaemon(dataDir, role)
    if (found.state === 'stopped') return undefined
    if (found.state === 'running') return found.daemon
    if (Date.now() > deadline)
      throw new BusyError(
        `a process holds the ${role} lock on ${dataDir} but is not proven to be its ${role}: ${found.reason}; nothing was signalled`,
      )
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Publishes the URL once the daemon (or server) listens. */
export function writeApiFile(dataDir: string, url: string, role: Role = 'daemon'): void {
  writeAtomic(roleFiles(dataDir, role).api, `${url}\n`)
}

export function removeApiFile(dataDir: string, role: Role = 'daemon'): void {
  rmSync(roleFiles(dataDir, role).api, { force: true })
}

/**
 * Waits until the daemon (or server) of this directory has let go of its lock and its process has
 * ended, or throws after `ms`. The lock goes a moment before the process: a caller that returned on
 * the lock alone (`server stop` did) could see the process still there, and its own SIGTERM then
 * killed a process whose handler was already gone.
 */
export async function waitForRelease(
  dataDir: string,
  pid: number,
  ms: number,
  role: Role = 'daemon',
): Promise<void> {
  const deadline = Date.now() + ms
  while (lockHeld(dataDir, role) || pidAlive(pid)) {
    if (Date.now() > deadline)
      throw new IpfsKitError('ERR_TIMEOUT', `the ${role} (pid ${pid}) did not stop within ${ms / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Readers of a small runtime file see the old contents or the new, never a half-written one. */
function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, path)
}
