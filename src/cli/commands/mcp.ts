import type { Command } from 'commander'
import { globals } from '../context.ts'

/** `ipfs-kit mcp`: the MCP server over stdio, for desktop AI clients. */
export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('run the MCP server over stdio (for desktop AI clients); stdout carries only MCP messages')
    .addHelpText(
      'after',
      '\nExample:\n  ipfs-kit mcp\n\nIn a desktop client\'s config:\n  {"mcpServers": {"ipfs-kit": {"command": "ipfs-kit", "args": ["mcp"]}}}',
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ loadConfig, resolveDataDir }, { runStdioMcp }] = await Promise.all([
        import('../../config/config.ts'),
        import('../../server/mcp/stdio.ts'),
      ])
      const dir = resolveDataDir(globals(cmd).dataDir)
      await runStdioMcp(loadConfig(dir), (globals(cmd) as { api?: string }).api)
    })
}
