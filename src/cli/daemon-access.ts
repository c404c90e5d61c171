import type { Command } from 'commander'
import type { DaemonClient } from '../client/daemon-client.ts'
import { globals } from './context.ts'

/** A client for the daemon of the data directory named by the flags (or the --api URL). */
export async function daemonClient(cmd: Command): Promise<DaemonClient> {
  const [{ DaemonClient }, { resolveDataDir }] = await Promise.all([
    import('../client/daemon-client.ts'),
    import('../config/config.ts'),
  ])
  const g = globals(cmd) as { dataDir?: string; api?: string }
  return new DaemonClient({ dataDir: resolveDataDir(g.dataDir), url: g.api })
}
