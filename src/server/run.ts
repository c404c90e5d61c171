import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pino from 'pino'
import { createStream } from 'rotating-file-stream'
import { RouteReader } from '../client/route-reader.ts'
import type { Config } from '../config/config.ts'
import { BusyError, IpfsKitError } from '../errors.ts'
import { pidAlive } from '../fs-utils.ts'
import { Repo } from '../repo.ts'
import { version } from '../version.ts'
import { buildServerApp } from './app.ts'
import { DaemonLink, type ServerContext } from './context.ts'
import { readToken } from './security.ts'

/** The files a running server keeps in its data directory (beside the daemon's). */
export function serverFiles(dataDir: string) {
  return {
    pid: join(dataDir, 'server.pid'),
    /** The running server's URL, like the daemon's `<data>/api`. */
    url: join(dataDir, 'server-api'),
    log: join(dataDir, 'logs', 'server.log'),
  }
}

/** The pid of the server running on this directory, if any (a stale pid file is ignored). */
export function runningServerPid(dataDir: string): number | undefined {
  const pid = Number(readText(serverFiles(dataDir).pid))
  return Number.isSafeInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined
}

/** The running server's URL from `<data>/server-api`, if any. */
export function serverUrl(dataDir: string): string | undefined {
  return readText(serverFiles(dataDir).url) || undefined
}

export interface RunningServer {
  url: string
  /** Settles when a signal has stopped the server. */
  done: Promise<void>
  stop(): Promise<void>
}

/**
 * Runs the server in this process until SIGTERM or SIGINT. One server per data directory (its pid
 * file; the port itself is the OS-level guard). Serves content whether or not the daemon runs.
 */
export async function runServer(config: Config): Promise<RunningServer> {
  const dir = config.data_dir
  const files = serverFiles(dir)
  const other = runningServerPid(dir)
  if (other != null && other !== process.pid) {
    throw new BusyError(
      `a server is already running on ${dir} (pid ${other}): stop it with \`ipfs-kit server stop\``,
    )
  }
  const repo = Repo.open(dir, config)
  const logStream = createStream('server.log', {
    path: join(dir, 'logs'),
    size: `${Math.max(1, Math.ceil(config.max_log_size / 1024))}K`,
    rotate: config.log_files_kept,
  })
  logStream.on('error', () => {})
  const log = pino({ level: config.log_level, base: { pid: process.pid } }, logStream)
  const token = readToken(dir)
  const ctx: ServerContext = {
    config,
    repo,
    store: repo.blocks,
    daemon: new DaemonLink({ dataDir: dir, url: config.server.daemon_url, token }),
    routes: new RouteReader({ dataDir: dir }),
    token,
    log,
    version,
    startedAt: Date.now(),
  }
  const app = await buildServerApp(ctx)
  const { host, port } = config.server
  try {
    await app.listen({ host, port })
  } catch (err) {
    await app.close()
    await repo.close()
    logStream.end()
    const code = (err as NodeJS.ErrnoException).code
    throw new IpfsKitError(
      'ERR_LISTEN',
      code === 'EADDRINUSE'
        ? `port ${port} on ${host} is in use: pass --port, or set server.port in config.json`
        : `cannot listen on ${host}:${port}: ${(err as Error).message}`,
    )
  }
  const address = app.server.address()
  const bound = typeof address === 'object' && address != null ? address.port : port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`
  writeFileSync(files.pid, `${process.pid}\n`)
  writeFileSync(files.url, `${url}\n`)
  log.info({ url, daemon: config.server.daemon_url ?? 'from <data>/api' }, 'server listening')
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down')
      if (readText(files.pid) === String(process.pid)) {
        rmSync(files.url, { force: true })
        rmSync(files.pid, { force: true })
      }
      await app.close()
      await repo.close()
      await new Promise<void>((r) => logStream.end(r))
    })()
    return stopping
  }
  const done = new Promise<void>((resolve, reject) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      stop().then(resolve, reject)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
  return { url, done, stop }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return ''
  }
}
