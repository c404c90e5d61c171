import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'

/** True once the child has exited, by a code or by a signal (`exitCode` alone misses the latter). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode != null || child.signalCode != null
}

/**
 * Waits for the child to exit by itself and returns its exit code (null when a signal ended it). A
 * child still there after `ms` is killed with SIGKILL and the wait throws: a test fails, it never hangs.
 */
export async function exited(child: ChildProcess, ms = 60_000): Promise<number | null> {
  if (!hasExited(child)) {
    const exit = once(child, 'exit')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms)
    })
    const first = await Promise.race([exit, late])
    clearTimeout(timer)
    if (first === 'late') {
      child.kill('SIGKILL')
      await exit
      throw new Error(`pid ${child.pid} did not exit within ${ms / 1000} s; killed it`)
    }
  }
  return child.exitCode
}

/** SIGTERM, then {@link exited}: the exit code of a graceful stop (null if a signal ended it). */
export async function stopChild(child: ChildProcess, ms = 60_000): Promise<number | null> {
  if (!hasExited(child)) child.kill('SIGTERM')
  return exited(child, ms)
}
