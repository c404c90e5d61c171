import type { Command } from 'commander'
import type { DaemonClient } from '../client/daemon-client.ts'
import { globals } from './context.ts'

/** A client for the daemon of the data directory named by the flags (or the --api URL). */
export async function daemonClient(cmd: Command): Promise<DaemonClient> {
  const [{ DaemonClient }, { resolveDataDir }] = await Promise.all([
    import('../client/daemon-client.ts'),
    import('../config/defaults.ts'),
  ])
  const g = globals(cmd) as { dataDir?: string; api?: string }
  return new DaemonClient({ dataDir: resolveDataDir(g.dataDir), url: g.api })
}

/** The daemon of this data directory if one answers (its `<data>/api` file exists and /health replies). */
export async function runningDaemon(cmd: Command): Promise<DaemonClient | undefined> {
  const [{ DaemonClient }, { resolveDataDir }, { apiUrl }] = await Promise.all([
    import('../client/daemon-client.ts'),
    import('../config/defaults.ts'),
    import('../daemon/lifecycle.ts'),
  ])
  const g = globals(cmd) as { dataDir?: string; api?: string }
  const dataDir = resolveDataDir(g.dataDir)
  const url = g.api ?? apiUrl(dataDir)
  if (url == null) return undefined
  const client = new DaemonClient({ dataDir, url, timeoutMs: 2000, retries: 0 })
  try {
    await client.health()
    return new DaemonClient({ dataDir, url })
  } catch {
    return undefined
  }
}
