import { closeSync, fstatSync, fsyncSync, openSync, readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { IpfsKitError } from './errors.ts'

/**
 * Bytes per write(2) into a regular file. A longer write makes Linux's page cache (6.18 here, on
 * ext4) allocate folios of a higher order, and when memory is fragmented such an allocation
 * compacts memory first. Measured on this machine, 1 GiB written through the page cache: 4 MiB per
 * call 2.5-3.4 s, 16-256 KiB per call anywhere from 0.6 to 2.9 s, 4 KiB per call 0.89-0.95 s run
 * after run. Kubo writes 4 KiB at a time too. The extra calls cost about 90 ms per GiB.
 */
export const FILE_WRITE_SLICE = 4096

/** The largest write(2) worth making to `fd`: FILE_WRITE_SLICE for a regular file, else no limit. */
export function writeSliceFor(fd: number): number {
  try {
    return fstatSync(fd).isFile() ? FILE_WRITE_SLICE : Number.POSITIVE_INFINITY
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** fsync a directory so that a file created or renamed in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/**
 * True when a process with this pid exists and has not exited (signal 0 checks without sending
 * anything). A zombie, exited but not yet reaped by its parent, holds nothing any more: not alive.
 */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !zombie(pid)
}

/** Linux's /proc says the process has exited (state Z or X); elsewhere, or when unreadable, false. */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state === 'Z' || state === 'X'
  } catch {
    return false
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
