import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { Logger } from 'pino'
import { DaemonClient, DaemonUnavailableError } from '../client/daemon-client.ts'
import type { RouteReader } from '../client/route-reader.ts'
import type { Config } from '../config/config.ts'
import type { Repo } from '../repo.ts'
import type { Vfs } from '../vfs/index.ts'

/** What every route and tool of the server works with. */
export interface ServerContext {
  config: Config
  repo: Repo
  /** Where content is read from: the local blockstore only (a missing block is a 404, never a network wait). */
  store: ReadableStorage
  /** The mutable file tree (`<data>/vfs`), shared with the CLI's `vfs` commands. */
  vfs: Vfs
  daemon: DaemonLink
  routes: RouteReader
  token: string
  log: Logger
  version: string
  /** The nonce of this start (in `server.pid` and /api/health): what `server stop` proves before it signals. */
  instance: string
  startedAt: number
}

/**
 * The daemon, found anew on each call: from `server.daemon_url`, or from `<data>/api`, which a
 * daemon started after the server writes (so the server picks it up without a restart).
 */
export class DaemonLink {
  private readonly dataDir: string
  private readonly fixedUrl: string | undefined
  private readonly token: string
  private cached: { url: string; client: DaemonClient } | undefined

  constructor(opts: { dataDir: string; url?: string; token: string }) {
    this.dataDir = opts.dataDir
    this.fixedUrl = opts.url?.replace(/\/$/, '')
    this.token = opts.token
  }

  /** A client for the daemon, or DaemonUnavailableError (503) saying how to start it. */
  async client(): Promise<DaemonClient> {
    const url = this.fixedUrl ?? (await this.urlFromDataDir())
    if (url == null) throw new DaemonUnavailableError(`no ${join(this.dataDir, 'api')} file`)
    if (this.cached?.url !== url) {
      this.cached = {
        url,
        client: new DaemonClient({ url, token: this.token, timeoutMs: 10_000, retries: 1 }),
      }
    }
    return this.cached.client
  }

  /** The daemon's URL if one is known now. */
  async url(): Promise<string | undefined> {
    return this.fixedUrl ?? (await this.urlFromDataDir())
  }

  private async urlFromDataDir(): Promise<string | undefined> {
    try {
      const text = (await readFile(join(this.dataDir, 'api'), 'utf8')).trim()
      return text === '' ? undefined : text.replace(/\/$/, '')
    } catch {
      return undefined
    }
  }
}

/** Runs `fn` with the daemon's client; a daemon that is down surfaces as DaemonUnavailableError. */
export async function withClient<T>(ctx: ServerContext, fn: (d: DaemonClient) => Promise<T>): Promise<T> {
  return fn(await ctx.daemon.client())
}

export { DaemonUnavailableError }
