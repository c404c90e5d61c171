import { spawn } from 'node:child_process'
import { mkdirSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { IpfsKitError } from '../../errors.ts'
import { globals, intFlag } from '../context.ts'
import { EXIT, exitSoon, note, out, outJson } from '../output.ts'

interface StartFlags {
  foreground?: boolean
  host?: string
  port?: number
  daemonUrl?: string
}

/** `ipfs-kit server start|stop|status`: the gateway, REST API and MCP server on 127.0.0.1:8888. */
export function registerServer(program: Command): void {
  const server = program
    .command('server')
    .description('run and control the server: gateway, REST API, MCP (127.0.0.1:8888)')

  server
    .command('start')
    .description('start the server in the background (or --foreground for systemd and containers)')
    .option('--foreground', 'run in this process; SIGTERM or SIGINT stops it cleanly')
    .option('--host <host>', 'bind address (default 127.0.0.1)')
    .option('--port <port>', 'port (default 8888; 0 picks a free one)', intFlag('--port'))
    .option('--daemon-url <url>', 'the daemon to manage (default: read from <data-dir>/api)')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit server start\n  ipfs-kit server start --foreground --port 8890',
    )
    .action(async (flags: StartFlags, cmd: Command) => {
      await startServer(cmd, flags)
    })

  server
    .command('stop')
    .description('stop the server gracefully')
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ resolveDataDir }, { provenDaemon, waitForRelease }] = await Promise.all([
        import('../../config/config.ts'),
        import('../../daemon/lifecycle.ts'),
      ])
      const dir = resolveDataDir(globals(cmd).dataDir)
      // signal only a server proven to be this directory's (its lock, and its API answering with
      // the pid and nonce of server.pid): never whoever now has a dead server's pid
      const proven = await provenDaemon(dir, 10_000, 'server')
      if (proven == null) throw new IpfsKitError('ERR_NOT_RUNNING', `no server is running on ${dir}`)
      const { pid } = proven
      process.kill(pid, 'SIGTERM')
      await waitForRelease(dir, pid, 30_000, 'server')
      if (globals(cmd).json) outJson({ stopped: true, pid })
      else out(`server stopped (pid ${pid})`)
    })

  server
    .command('status')
    .description('whether the server runs, its URL, and the daemon it sees; exits 1 if it is not running')
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ resolveDataDir }, { runningServer }, { bearerHeaders }] = await Promise.all([
        import('../../config/config.ts'),
        import('../../server/run.ts'),
        import('../../daemon/lifecycle.ts'),
      ])
      const dir = resolveDataDir(globals(cmd).dataDir)
      const running = await runningServer(dir)
      if (running == null) {
        if (globals(cmd).json) outJson({ running: false, data_dir: dir })
        else out(`server: not running on ${dir} (start it with: ipfs-kit server start)`)
        process.exitCode = EXIT.failed
        return
      }
      const { url, pid } = running
      const res = await fetch(`${url}/api/health`, {
        headers: bearerHeaders(dir),
        signal: AbortSignal.timeout(5000),
      })
      const health = (await res.json()) as {
        status: string
        version: string
        uptime_s: number
        daemon: { available: boolean; url: string | null }
      }
      if (globals(cmd).json) {
        outJson({ running: true, url, pid, ...health })
        return
      }
      out(`server: running (pid ${pid}) at ${url}`)
      out(`version: ${health.version}`)
      out(`uptime: ${Math.round(health.uptime_s)} s`)
      out(
        health.daemon.available
          ? `daemon: running at ${health.daemon.url}`
          : 'daemon: not running (content is still served; start it with: ipfs-kit daemon start)',
      )
    })
}

function overrides(flags: StartFlags): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (flags.host != null) o.host = flags.host
  if (flags.port != null) o.port = flags.port
  if (flags.daemonUrl != null) o.daemon_url = flags.daemonUrl
  return o
}

async function startServer(cmd: Command, flags: StartFlags): Promise<void> {
  const [{ loadConfig, readConfigFile, resolveDataDir }, { runningServer, serverFiles }] = await Promise.all([
    import('../../config/config.ts'),
    import('../../server/run.ts'),
  ])
  const dir = resolveDataDir(globals(cmd).dataDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const fileServer = readConfigFile(dir).server
  const server = { ...(typeof fileServer === 'object' ? fileServer : {}), ...overrides(flags) }
  const config = loadConfig(dir, { server })
  if (flags.foreground) {
    const { runServer } = await import('../../server/run.ts')
    const { url, done } = await runServer(config)
    note(`server listening at ${url} (pid ${process.pid}); log in ${serverFiles(dir).log}`)
    await done
    exitSoon()
    return
  }
  const existing = await runningServer(dir)
  if (existing != null) {
    throw new IpfsKitError(
      'ERR_BUSY',
      `a server is already running on ${dir} (pid ${existing.pid}): stop it with \`ipfs-kit server stop\``,
    )
  }
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const outFile = join(dir, 'logs', 'server.out')
  const flagArgs = Object.entries(overrides(flags)).flatMap(([k, v]) => [
    `--${k.replaceAll('_', '-')}`,
    String(v),
  ])
  const child = spawn(
    process.execPath,
    [process.argv[1]!, '--data-dir', dir, 'server', 'start', '--foreground', ...flagArgs],
    { detached: true, stdio: ['ignore', openSync(outFile, 'a'), openSync(outFile, 'a')], env: process.env },
  )
  child.unref()
  let exited = false
  child.once('exit', () => {
    exited = true
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    const running = await runningServer(dir)
    if (running != null && running.pid === child.pid) {
      const { url } = running
      if (globals(cmd).json) outJson({ started: true, pid: child.pid, url })
      else out(`server started (pid ${child.pid}) at ${url}`)
      return
    }
    if (exited) {
      const last = readFileSync(outFile, 'utf8')
        .trim()
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('Error:'))
      throw new IpfsKitError(
        'ERR_START',
        `the server did not start: ${(last ?? 'it exited').replace(/^Error: /, '')} (see ${outFile})`,
      )
    }
    if (Date.now() > deadline)
      throw new IpfsKitError('ERR_TIMEOUT', `the server did not come up within 60 s (see ${outFile})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
