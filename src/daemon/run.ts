import type { ConfigLayers } from '../config/config.ts'
import { resolveConfig } from '../config/config.ts'
import { IpfsKitError } from '../errors.ts'
import { tuneHeapForService } from '../heap.ts'
import { isLoopback, loadOrCreateToken } from '../http/auth.ts'
import { Daemon } from './daemon.ts'
import { buildApp } from './http/app.ts'
import { acquireLock, removeApiFile, writeApiFile } from './lifecycle.ts'
import { securePermissions } from './permissions.ts'

/**
 * Runs the daemon in this process until SIGTERM or SIGINT, then shuts down gracefully: stop taking
 * requests, finish the ones in flight and the sync in progress, close the database, remove the
 * runtime files. Resolves with the URL it listens on once it is serving; `done` settles at exit.
 */
export async function runDaemon(
  dataDir: string,
  layers: ConfigLayers = {},
): Promise<{ url: string; done: Promise<void>; stop: () => Promise<void> }> {
  tuneHeapForService()
  const fixes = securePermissions(dataDir)
  const { config, origins } = resolveConfig(dataDir, layers)
  const lock = acquireLock(config.data_dir)
  let daemon: Daemon | undefined
  try {
    const token = loadOrCreateToken(config.data_dir)
    daemon = await Daemon.start(config, { instance: lock.instance, layers, origins })
    for (const f of fixes)
      daemon.log.warn(f, `${f.path} was mode ${f.was}, readable by others: set to ${f.now}`)
    const app = await buildApp(daemon, { token, port: config.port, public: !isLoopback(config.host) })
    // connections past the cap are closed on arrival (node:http), so a flood of idle sockets cannot
    // take the descriptors the blockstore and SQLite need
    app.server.maxConnections = config.max_connections
    try {
      await app.listen({ host: config.host, port: config.port })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new IpfsKitError(
        'ERR_LISTEN',
        code === 'EADDRINUSE'
          ? `port ${config.port} on ${config.host} is in use: set "port" in config.json or pass --port`
          : `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`,
      )
    }
    const address = app.server.address()
    const port = typeof address === 'object' && address != null ? address.port : config.port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    const url = `http://${host}:${port}`
    daemon.listening(config.host, port)
    const running = daemon
    let stopping: Promise<void> | undefined
    const stop = () => {
      stopping ??= (async () => {
        running.log.info('shutting down')
        removeApiFile(config.data_dir)
        await app.close()
        await running.close()
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
    // announced only once SIGTERM stops it cleanly: a client that reads <data>/api and at once sends
    // SIGTERM (a test, a supervisor) found the default action still in place, and the process died
    // with its lock and api file behind (seen once in test/security.test.ts under load)
    writeApiFile(config.data_dir, url)
    return { url, done, stop }
  } catch (err) {
    await daemon?.close().catch(() => {})
    removeApiFile(config.data_dir)
    lock.release()
    throw err
  }
}
