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
  logLevel?: string
  healthCheckInterval?: number
  replicationSyncInterval?: number
}

/** `ipfs-kit daemon start|stop|restart|status`. */
export function registerDaemon(program: Command): void {
  const daemon = program.command('daemon').description('run and control the daemon (127.0.0.1:8887)')

  const start = daemon
    .command('start')
    .description('start the daemon in the background (or --foreground for systemd and containers)')
    .option('--foreground', 'run in this process; SIGTERM or SIGINT stops it cleanly')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit daemon start\n  ipfs-kit daemon start --foreground --port 8890',
    )
  startFlags(start).action(async (flags: StartFlags, cmd: Command) => {
    await startDaemon(cmd, flags)
  })

  daemon
    .command('stop')
    .description('stop the daemon gracefully (finishes in-flight work, closes the database)')
    .action(async (_flags: unknown, cmd: Command) => {
      const { resolveDataDir } = await import('../../config/config.ts')
      const dir = resolveDataDir(globals(cmd).dataDir)
      const pid = await stopDaemon(dir)
      if (pid == null) throw new IpfsKitError('ERR_NOT_RUNNING', `no daemon is running on ${dir}`)
      if (globals(cmd).json) outJson({ stopped: true, pid })
      else out(`daemon stopped (pid ${pid})`)
    })

  const restart = daemon.command('restart').description('stop the daemon if it runs, then start it')
  startFlags(restart).action(async (flags: StartFlags, cmd: Command) => {
    const { resolveDataDir } = await import('../../config/config.ts')
    await stopDaemon(resolveDataDir(globals(cmd).dataDir))
    await startDaemon(cmd, { ...flags, foreground: false })
  })

  daemon
    .command('status')
    .description(
      'whether the daemon runs, and its version, uptime, pid and counts; exits 1 if it is not running',
    )
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ resolveDataDir }, { findDaemon }] = await Promise.all([
        import('../../config/config.ts'),
        import('../../daemon/lifecycle.ts'),
      ])
      const dir = resolveDataDir(globals(cmd).dataDir)
      const found = await findDaemon(dir)
      if (found.state !== 'running') {
        const why = found.state === 'unproven' ? found.reason : undefined
        if (globals(cmd).json)
          outJson({ running: false, data_dir: dir, ...(why ? { lock_held: true, reason: why } : {}) })
        else if (why != null) out(`daemon: not answering on ${dir}: a process ${why}`)
        else out(`daemon: not running on ${dir} (start it with: ipfs-kit daemon start)`)
        process.exitCode = EXIT.failed
        return
      }
      const { url } = found.daemon
      const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) })
      const status = (await res.json()) as Record<string, unknown> & {
        version: string
        pid: number
        uptime_s: number
        pins: Record<string, number>
        backends: { total: number; running: number; healthy: number }
      }
      if (globals(cmd).json) {
        outJson({ running: true, url, ...status })
        return
      }
      out(`daemon: running (pid ${status.pid}) at ${url}`)
      out(`version: ${status.version}`)
      out(`uptime: ${Math.round(status.uptime_s)} s`)
      out(`data dir: ${dir}`)
      out(
        `pins: ${Object.entries(status.pins)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')}`,
      )
      out(
        `backends: ${status.backends.running} of ${status.backends.total} running, ${status.backends.healthy} healthy`,
      )
    })
}

function startFlags(cmd: Command): Command {
  return cmd
    .option('--host <host>', 'bind address (default 127.0.0.1)')
    .option('--port <port>', 'port (default 8887; 0 picks a free one)', intFlag('--port'))
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace')
    .option(
      '--health-check-interval <s>',
      'seconds between health probes',
      intFlag('--health-check-interval', 1),
    )
    .option(
      '--replication-sync-interval <s>',
      'seconds between replication passes',
      intFlag('--replication-sync-interval', 1),
    )
}

/** Flags as config overrides (the highest precedence). */
function overrides(flags: StartFlags): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (flags.host != null) o.host = flags.host
  if (flags.port != null) o.port = flags.port
  if (flags.logLevel != null) o.log_level = flags.logLevel
  if (flags.healthCheckInterval != null) o.health_check_interval = flags.healthCheckInterval
  if (flags.replicationSyncInterval != null) o.replication_sync_interval = flags.replicationSyncInterval
  return o
}

async function startDaemon(cmd: Command, flags: StartFlags): Promise<void> {
  const [{ loadConfig, resolveDataDir }, { findDaemon, lockHeld, readPidFile }] = await Promise.all([
    import('../../config/config.ts'),
    import('../../daemon/lifecycle.ts'),
  ])
  const dir = resolveDataDir(globals(cmd).dataDir)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (flags.foreground) {
    const { runDaemon } = await import('../../daemon/run.ts')
    const { url, done } = await runDaemon(dir, { flags: overrides(flags) })
    note(`daemon listening at ${url} (pid ${process.pid}); logs in ${join(dir, 'logs')}`)
    await done
    exitSoon()
    return
  }
  loadConfig(dir, overrides(flags)) // a bad value is refused here, naming the key, before anything starts
  // a quick answer for the common case; the lock the child takes decides every race
  if (lockHeld(dir)) {
    const pid = readPidFile(dir)?.pid
    throw new IpfsKitError(
      'ERR_BUSY',
      `a daemon is already running on ${dir}${pid == null ? '' : ` (pid ${pid})`}: stop it with \`ipfs-kit daemon stop\``,
    )
  }
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const outFile = join(dir, 'logs', 'daemon.out')
  const fd = openSync(outFile, 'a')
  const flagArgs = Object.entries(overrides(flags)).flatMap(([k, v]) => [
    `--${k.replaceAll('_', '-')}`,
    String(v),
  ])
  const args = [process.argv[1]!, '--data-dir', dir, 'daemon', 'start', '--foreground', ...flagArgs]
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: process.env,
  })
  child.unref()
  let exited: number | null = null
  child.once('exit', (code) => {
    exited = code ?? 1
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    const found = exited == null && readPidFile(dir)?.pid === child.pid ? await findDaemon(dir) : undefined
    if (found?.state === 'running' && found.daemon.pid === child.pid) {
      const { url } = found.daemon
      if (globals(cmd).json) outJson({ started: true, pid: child.pid, url })
      else out(`daemon started (pid ${child.pid}) at ${url}`)
      return
    }
    if (exited != null) {
      const lines = readFileSync(outFile, 'utf8').trim().split('\n')
      const last = lines.reverse().find((l) => l.startsWith('Error:')) ?? lines[0] ?? ''
      throw new IpfsKitError(
        'ERR_START',
        `the daemon did not start: ${last.replace(/^Error: /, '')} (see ${outFile})`,
      )
    }
    if (Date.now() > deadline)
      throw new IpfsKitError('ERR_TIMEOUT', `the daemon did not come up within 60 s (see ${outFile})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Stops this directory's daemon and waits until it has let go of its lock. Only a process proven
 * to be that daemon (lock held, API answering with the pid file's pid and nonce) is signalled: a
 * pid file left by a killed daemon may name any process by now. Undefined when none runs.
 */
async function stopDaemon(dir: string): Promise<number | undefined> {
  const { provenDaemon, waitForRelease } = await import('../../daemon/lifecycle.ts')
  const daemon = await provenDaemon(dir)
  if (daemon == null) return undefined
  process.kill(daemon.pid, 'SIGTERM')
  await waitForRelease(dir, daemon.pid, 60_000)
  return daemon.pid
}
