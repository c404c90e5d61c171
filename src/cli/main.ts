// helia and libp2p need Promise.withResolvers (Node 22): defined before any of them loads
import '../polyfills.ts'
import { Command, CommanderError } from 'commander'
import { version } from '../version.ts'
import { registerCompletion } from './commands/completion.ts'
import { registerConfig } from './commands/config.ts'
import { registerDaemon } from './commands/daemon.ts'
import { registerDemo } from './commands/demo.ts'
import { registerIpfs } from './commands/ipfs.ts'
import { registerManage } from './commands/manage.ts'
import { registerMcp } from './commands/mcp.ts'
import { registerRepo } from './commands/repo.ts'
import { registerRoute } from './commands/route.ts'
import { registerServer } from './commands/server.ts'
import { registerVfs } from './commands/vfs.ts'
import { EXIT, reportError } from './output.ts'

/** Global flags every command accepts. */
export interface GlobalOptions {
  dataDir?: string
  json?: boolean
}

/** Builds the command tree; heavy modules load inside each action, so `--version` and `--help` stay fast. */
export function buildProgram(): Command {
  const program = new Command('ipfs-kit')
    .description(
      'Content-addressed storage on IPFS: Kubo-identical CIDs, durable local blocks, replicated pins.',
    )
    .version(version, '-v, --version')
    .option('-d, --data-dir <dir>', 'data directory (default: $IPFS_KIT_HOME or ~/.ipfs-kit)')
    .option('--api <url>', 'daemon URL (default: read from <data-dir>/api)')
    .option('--json', 'print machine-readable JSON instead of text')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: true })
  registerDaemon(program)
  registerConfig(program)
  registerIpfs(program)
  registerManage(program)
  registerRoute(program)
  registerServer(program)
  registerMcp(program)
  registerDemo(program)
  registerCompletion(program)
  registerRepo(program)
  registerVfs(program)
  addExamples(program)
  return program
}

/**
 * A command that takes no arguments and has no example of its own gets its bare invocation as one
 * (`ipfs-kit repo stat` is a complete example). A command with arguments needs a written example
 * with real values: test/cli-manage.test.ts parses every example with this program.
 */
function addExamples(root: Command): void {
  for (const cmd of allCommands(root)) {
    if (cmd.commands.length > 0 || cmd.name() === 'help' || cmd.registeredArguments.length > 0) continue
    // addHelpText('after', ...) registers an 'afterHelp' listener: every one of ours is an example
    if ((cmd as unknown as import('node:events').EventEmitter).listenerCount('afterHelp') > 0) continue
    const path: string[] = []
    for (let c: Command | null = cmd; c != null && c !== root; c = c.parent) path.unshift(c.name())
    cmd.addHelpText('after', `\nExample:\n  ipfs-kit ${path.join(' ')}`)
  }
}

/** Runs the CLI and exits with 0 on success, 1 on failure, 2 on bad usage or input. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  program.exitOverride()
  for (const cmd of allCommands(program)) cmd.exitOverride()
  let code: number = EXIT.ok
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      code = err.exitCode === 0 ? EXIT.ok : EXIT.usage
    } else {
      code = reportError(err)
    }
  }
  // a command may have set a non-zero exit code without throwing (e.g. `daemon status` when stopped)
  if (code !== EXIT.ok) process.exitCode = code
}

function* allCommands(cmd: Command): Generator<Command> {
  for (const sub of cmd.commands) {
    yield sub
    yield* allCommands(sub)
  }
}
