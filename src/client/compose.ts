import { DaemonClient, type DaemonClientOptions, DaemonUnavailableError } from './daemon-client.ts'
import { RouteReader } from './route-reader.ts'

/** What `withDaemon` gives a server or tool: the daemon, the index, and a fallback when the daemon is down. */
export interface DaemonAccess {
  daemon: DaemonClient
  routes: RouteReader
  /** True if the daemon answers /health now. */
  available(): Promise<boolean>
  /** Runs `fn` against the daemon; if the daemon is not running, returns `fallback()` instead. */
  orElse<T>(fn: (d: DaemonClient) => Promise<T>, fallback: () => T | Promise<T>): Promise<T>
}

/**
 * The original design's mixin, as composition: daemon access plus fallback in one line, e.g.
 * `const kit = withDaemon({ dataDir })`, then `kit.orElse((d) => d.status(), () => offline)`.
 */
export function withDaemon(opts: DaemonClientOptions & { dataDir: string }): DaemonAccess {
  const daemon = new DaemonClient({ timeoutMs: 10_000, ...opts })
  const routes = new RouteReader({ dataDir: opts.dataDir })
  return {
    daemon,
    routes,
    async available() {
      try {
        await new DaemonClient({ ...opts, timeoutMs: 2000, retries: 0 }).health()
        return true
      } catch {
        return false
      }
    },
    async orElse(fn, fallback) {
      try {
        return await fn(daemon)
      } catch (err) {
        if (err instanceof DaemonUnavailableError) return fallback()
        throw err
      }
    },
  }
}
