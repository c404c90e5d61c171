import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { BusyError, IpfsKitError } from '../errors.ts'
import { pidAlive } from '../fs-utils.ts'

/** The files a running daemon keeps in its data directory. */
export function daemonFiles(dataDir: string) {
  return {
    lock: join(dataDir, 'daemon.lock'),
    pid: join(dataDir, 'daemon.pid'),
    /** Like Kubo's $IPFS_PATH/api: the URL of the running daemon, for every client on this directory. */
    api: join(dataDir, 'api'),
    token: join(dataDir, 'api-token'),
  }
}

/**
 * Takes the one-daemon-per-directory lock: an exclusively created file holding our pid. A lock
 * whose pid is gone is stale and is cleaned up; a live one is refused clearly.
 */
export function acquireLock(dataDir: string): () => void {
  const { lock } = daemonFiles(dataDir)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx', 0o600)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return () => rmSync(lock, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = readPid(lock)
      if (holder != null && holder !== process.pid && pidAlive(holder)) {
        throw new BusyError(
          `a daemon is already running on ${dataDir} (pid ${holder}): stop it with \`ipfs-kit daemon stop\``,
        )
      }
      rmSync(lock, { force: true })
    }
  }
  throw new BusyError(`cannot take the daemon lock ${lock}: another daemon is starting`)
}

/** The pid of the daemon running on this directory, if any (stale pid files are ignored). */
export function runningPid(dataDir: string): number | undefined {
  const { lock, pid } = daemonFiles(dataDir)
  for (const file of [lock, pid]) {
    const p = readPid(file)
    if (p != null && pidAlive(p)) return p
  }
  return undefined
}

/** The running daemon's URL from `<data>/api`, if any. */
export function apiUrl(dataDir: string): string | undefined {
  const { api } = daemonFiles(dataDir)
  if (!existsSync(api)) return undefined
  const url = readFileSync(api, 'utf8').trim()
  return url === '' ? undefined : url
}

export function writeRuntimeFiles(dataDir: string, url: string): void {
  const f = daemonFiles(dataDir)
  writeFileSync(f.pid, `${process.pid}\n`)
  writeFileSync(f.api, `${url}\n`)
}

export function removeRuntimeFiles(dataDir: string): void {
  const f = daemonFiles(dataDir)
  rmSync(f.api, { force: true })
  rmSync(f.pid, { force: true })
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim())
    return Number.isSafeInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** Waits until `pid` has exited, or throws after `ms`. */
export async function waitForExit(pid: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (pidAlive(pid)) {
    if (Date.now() > deadline)
      throw new IpfsKitError('ERR_TIMEOUT', `the daemon (pid ${pid}) did not stop within ${ms / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
