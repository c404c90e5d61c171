import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { ToolContext } from './context.ts'
import { registerResources } from './resources.ts'
import { contentTools } from './tools/content.ts'
import { managementTools } from './tools/management.ts'
import { routingTools } from './tools/routing.ts'
import { vfsTools } from './tools/vfs.ts'

/** Every tool area. */
const AREAS = [contentTools, vfsTools, managementTools, routingTools]

/** An MCP server with every ipfs-kit tool; one per stdio process or per HTTP session. */
export function createMcpServer(ctx: ToolContext): McpServer {
  const server = new McpServer(
    { name: 'ipfs-kit', version: ctx.version },
    {
      instructions:
        "ipfs-kit: content-addressed storage on IPFS. content_* tools read and add content locally (no daemon needed); vfs_* work on a mutable file tree (Kubo's `ipfs files`, no daemon needed); pin_*, backend_*, replication_* and daemon_status go to the ipfs-kit daemon; route_* answer from the pin index.",
    },
  )
  for (const area of AREAS) area(server, ctx)
  registerResources(server, ctx)
  return server
}
