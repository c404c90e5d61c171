import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { RouteReader } from '../../client/route-reader.ts'
import type { Config } from '../../config/config.ts'
import { loadOrCreateToken } from '../../http/auth.ts'
import { Repo } from '../../repo.ts'
import { version } from '../../version.ts'
import { Vfs } from '../../vfs/index.ts'
import { DaemonLink } from '../context.ts'
import { createMcpServer } from './server.ts'

/** Serves MCP on stdin/stdout until the client closes stdin; the same tools as /mcp. */
export async function runStdioMcp(config: Config, daemonUrl?: string): Promise<void> {
  const repo = Repo.open(config.data_dir, config)
  const vfs = await Vfs.open(repo)
  const server = createMcpServer({
    config,
    repo,
    store: repo.blocks,
    vfs,
    daemon: new DaemonLink({
      dataDir: config.data_dir,
      url: daemonUrl ?? config.server.daemon_url,
      token: loadOrCreateToken(config.data_dir),
    }),
    routes: new RouteReader({ dataDir: config.data_dir }),
    version,
  })
  const transport = new StdioServerTransport()
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve()
    process.stdin.once('end', () => resolve())
  })
  await server.connect(transport)
  await closed
  await server.close()
  await vfs.close()
  await repo.close()
}
