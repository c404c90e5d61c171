import { join } from 'node:path'
import pino from 'pino'
import { createStream } from 'rotating-file-stream'
import { RouteReader } from '../client/route-reader.ts'
import type { Config } from '../config/config.ts'
import {
  acquireLock,
  findDaemon,
  type ProvenDaemon,
  removeApiFile,
  roleFiles,
  writeApiFile,
} from '../daemon/lifecycle.ts'
import { IpfsKitError } from '../errors.ts'
import { loadOrCreateToken } from '../http/auth.ts'
import { Repo } from '../repo.ts'
import { version } from '../version.ts'
import { Vfs } from '../vfs/index.ts'
import { buildServerApp } from './app.ts'
import { DaemonLink, type ServerContext } from './context.ts'

/** The files a running server keeps in its data directory (beside the daemon's). */
export function serverFiles(dataDir: string) {
  const files = roleFiles(dataDir, 'server')
  return { lock: files.lock, pid: files.pid, url: files.api, log: join(dataDir, 'logs', 'server.log') }
}

/**
 * The server running on this directory, proven as the daemon is: it holds `server.lock` and its
 * /api/health answers with the pid and per-start nonce of `server.pid`. A pid file left by a killed
 * server (whose pid may now be anyone's) proves nothing, so nobody is signalled on its word.
 */
export async function runningServer(dataDir: string): Promise<ProvenDaemon | undefined> {
  const found = await findDaemon(dataDir, 'server')
  return found.state === 'running' ? found.daemon : undefined
}

export interface RunningServer {
  url: string
  /** Settles when a signal has stopped the server. */
  done: Promise<void>
  stop(): Promise<void>
}

/**
 * Runs the server in this process until SIGTERM or SIGINT. One server per data directory (an OS
 * lock on `server.lock`, as the daemon's). Serves content whether or not the daemon runs.
 */
export async function runServer(config: Config): Promise<RunningServer> {
  const dir = config.data_dir
  // one server per directory: an OS lock held for the process's life (ERR_BUSY names the holder)
  const lock = acquireLock(dir, 'server')
  let repo: Repo
  let vfs: Vfs
  try {
    repo = Repo.open(dir, config)
    vfs = await Vfs.open(repo)
  } catch (err) {
    lock.release()
    throw err
  }
  const logStream = createStream('server.log', {
    path: join(dir, 'logs'),
    size: `${Math.max(1, Math.ceil(config.max_log_size / 1024))}K`,
    rotate: config.log_files_kept,
  })
  logStream.on('error', () => {})
  const log = pino({ level: config.log_level, base: { pid: process.pid } }, logStream)
  const token = loadOrCreateToken(dir)
  const ctx: ServerContext = {
    config,
    repo,
    store: repo.blocks,
    vfs,
    daemon: new DaemonLink({ dataDir: dir, url: config.server.daemon_url, token }),
    routes: new RouteReader({ dataDir: dir }),
    token,
    log,
    version,
    instance: lock.instance,
    startedAt: Date.now(),
  }
  const app = await buildServerApp(ctx)
  const { host, port } = config.server
  app.server.maxConnections = config.server.max_connections
  try {
    await app.listen({ host, port })
  } catch (err) {
    await app.close()
    await vfs.close()
    await repo.close()
    logStream.end()
    lock.release()
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
  writeApiFile(dir, url, 'server')
  log.info({ url, daemon: config.server.daemon_url ?? 'from <data>/api' }, 'server listening')
  let stopping: Promise<void> | undefined
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down')
      removeApiFile(dir, 'server')
      await app.close()
      await vfs.close()
      await repo.close()
      await new Promise<void>((r) => logStream.end(r))
      lock.release()
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
