import { closeSync, fsyncSync, openSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { IpfsKitError } from './errors.ts'

/** fsync a directory so that a file created or renamed in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** True when a process with this pid exists (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** fsyncDir without blocking the event loop (for directories on devices that may be slow, e.g. a NAS). */
export async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Waits until `pid` has exited, or throws ERR_TIMEOUT after `ms`, naming `what` it waited for. */
export async function waitForExit(pid: number, ms: number, what = 'the process'): Promise<void> {
  const deadline = Date.now() + ms
  while (pidAlive(pid)) {
    if (Date.now() > deadline)
      throw new IpfsKitError('ERR_TIMEOUT', `${what} (pid ${pid}) did not stop within ${ms / 1000} s`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
