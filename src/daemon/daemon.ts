import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import pino, { type Logger } from 'pino'
import type { LocalBackend } from '../backends/local.ts'
import { buildBackend, buildBackends } from '../backends/registry.ts'
import {
  type Config,
  type ConfigLayers,
  type ConfigOrigins,
  RESTART_KEYS,
  resolveConfig,
} from '../config/config.ts'
import { walkBlocks } from '../content/export.ts'
import { FetchTimeoutError, IpfsKitError } from '../errors.ts'
import { PinIndexPublisher } from '../pin-index/publish.ts'
import { PIN_INDEX_FILE } from '../pin-index/schema.ts'
import { LOCAL_BACKEND, Repo } from '../repo.ts'
import { GroupCommit } from '../state/group-commit.ts'
import { version } from '../version.ts'
import { EventBus } from './events.ts'
import { LogFiles } from './logs.ts'
import { Reconciler } from './reconciler.ts'
import { Supervisor } from './supervisor.ts'

export interface DaemonStartOptions {
  /** The nonce of this start (see lifecycle.ts); random when absent. */
  instance?: string
  /** The layers above config.json the config was resolved with, and where each value came from. */
  layers?: ConfigLayers
  origins?: ConfigOrigins
}

/**
 * The daemon's parts wired together (the top level does little else): the repo, the backends and
 * their supervisor, the reconciler, the pin index publisher, logs and events. The HTTP API
 * (`http/app.ts`) is a thin layer over this.
 */
export class Daemon {
  readonly repo: Repo
  readonly logs: LogFiles
  readonly log: Logger
  readonly events = new EventBus()
  readonly supervisor: Supervisor
  readonly reconciler: Reconciler
  readonly index: PinIndexPublisher
  /** Pin writes from the API, committed together when they arrive together (see GroupCommit). */
  readonly pinWrites: GroupCommit
  readonly startedAt = Date.now()
  private watch: NodeJS.Timeout | undefined
  readonly version = version
  /** A nonce for this start (from the daemon lock): /health answers with it, so `daemon stop` can prove whom it signals. */
  readonly instance: string
  /** The effective config in use (host and port: the ones listened on). */
  config: Config
  /** Which layer each value of `config` came from. */
  configOrigins: ConfigOrigins
  /** Keys changed in config.json (or the environment) that apply at the next start. */
  pendingRestart: string[] = []
  /** The layers above config.json this daemon was started with: every reload applies them again. */
  private readonly configLayers: ConfigLayers
  /** The config as resolved at start, before the port in use replaced a requested 0. */
  private readonly startConfig: Config

  private constructor(repo: Repo, config: Config, opts: DaemonStartOptions) {
    this.repo = repo
    this.pinWrites = new GroupCommit(repo.db)
    this.config = config
    this.startConfig = config
    this.configOrigins = opts.origins ?? {}
    this.configLayers = opts.layers ?? {}
    this.instance = opts.instance ?? randomUUID().replaceAll('-', '')
    this.logs = new LogFiles(join(repo.dir, 'logs'), config.max_log_size, config.log_files_kept)
    this.log = pino({ level: config.log_level, base: { pid: process.pid } }, this.logs.stream('daemon'))
    const backends = buildBackends(repo, config, (name) => ({
      dataDir: repo.dir,
      log: (line) => this.logs.line(name, line),
      origins: () => this.delegates(),
    }))
    this.supervisor = new Supervisor(repo.db, backends, this.events)
    this.reconciler = new Reconciler(
      repo,
      this.supervisor,
      this.events,
      () => this.config.replication,
      (root) => this.fetch(root),
    )
    this.index = new PinIndexPublisher(repo.dir, {
      context: () => ({
        backends: this.supervisor.list().map((b) => ({
          name: b.name,
          type: b.type,
          state: b.state,
          usable: this.supervisor.usable(b.name),
          status: b.health?.status ?? 'unknown',
          latencyMs: b.health?.latencyMs ?? null,
          freeBytes: b.health?.freeBytes ?? null,
          checkedAt: b.health?.checkedAt ?? null,
        })),
        policy: this.config.replication,
        publishedAt: Date.now(),
      }),
      onPublished: (r) => this.events.emit({ type: 'index', rows: r.rows, ms: r.ms }),
      onError: (err) => this.log.error({ err }, 'publishing the pin index failed'),
    })
    this.supervisor.onHealthChange = () => {
      this.reconciler.nudge()
      this.index.schedule()
    }
    this.reconciler.onChange = () => this.index.schedule()
    this.reconciler.log = (message, fields) => this.log.info(fields, message)
  }

  /** Opens the data directory with the effective config and starts every part. */
  static async start(config: Config, opts: DaemonStartOptions = {}): Promise<Daemon> {
    const repo = Repo.open(config.data_dir, config)
    const daemon = new Daemon(repo, config, opts)
    try {
      await daemon.supervisor.startAll()
      await daemon.supervisor.probeAll()
      daemon.supervisor.startLoop(config.health_check_interval)
      daemon.reconciler.startLoop(config.replication_sync_interval)
      // readers keep the last published index while a new one is written in the background: the API
      // opens without waiting for it (seconds with a million pins); only a first start waits, so
      // that an index exists whenever the daemon answers
      if (existsSync(join(repo.dir, 'index', PIN_INDEX_FILE))) daemon.index.schedule()
      else await daemon.index.flush()
      daemon.reconciler.nudge()
      daemon.watchExternalWrites()
      daemon.log.info(
        { version, dataDir: repo.dir, backends: daemon.supervisor.list().map((b) => `${b.name}:${b.state}`) },
        'daemon started',
      )
    } catch (err) {
      await daemon.close()
      throw err
    }
    return daemon
  }

  /**
   * The CLI records pins of content it adds straight into state.db (see DESIGN.md, one writer):
   * notice other connections' commits within a second, then reconcile and republish the index.
   */
  private watchExternalWrites(): void {
    let seen = this.repo.db.pragma('data_version', { simple: true })
    this.watch = setInterval(() => {
      const now = this.repo.db.pragma('data_version', { simple: true })
      if (now === seen) return
      seen = now
      this.index.schedule()
      this.reconciler.catchUp()
    }, 1000)
    this.watch.unref()
  }

  /** Records the address the API listens on: the config shows the host and port in use. */
  listening(host: string, port: number): void {
    this.config = { ...this.config, host, port }
  }

  /**
   * Re-reads config.json and applies every layer again (defaults < file < env < the start-up
   * flags, which keep winning), then the live settings; keys that need a restart keep their value
   * in use and are listed in `pendingRestart`.
   */
  reloadConfig(): { restart_needed: string[] } {
    const next = resolveConfig(this.repo.dir, this.configLayers)
    const restartNeeded = RESTART_KEYS.filter(
      (k) => JSON.stringify(next.config[k]) !== JSON.stringify(this.startConfig[k]),
    )
    const config: Config = { ...next.config }
    const origins = { ...next.origins }
    for (const k of RESTART_KEYS) {
      Object.assign(config, { [k]: this.config[k] })
      for (const key of Object.keys(origins)) if (key === k || key.startsWith(`${k}.`)) delete origins[key]
      for (const [key, origin] of Object.entries(this.configOrigins))
        if (key === k || key.startsWith(`${k}.`)) origins[key] = origin
    }
    // backends change in applyBackends(), which the caller awaits next
    config.backends = this.config.backends
    this.configOrigins = origins
    this.pendingRestart = restartNeeded
    this.applyConfig(config)
    return { restart_needed: restartNeeded }
  }

  /**
   * Makes the running backends match `backends` in config.json at once: a removed entry is stopped
   * and forgotten (its replicas stop counting and the reconciler repairs elsewhere), a new one built
   * and started, a changed one replaced. Validated before anything changes.
   */
  async applyBackends(): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
    const next = resolveConfig(this.repo.dir, this.configLayers).config.backends
    const before = new Map(this.config.backends.map((b) => [b.name, JSON.stringify(b)]))
    const after = new Map(next.map((b) => [b.name, JSON.stringify(b)]))
    const removed = [...before.keys()].filter((n) => !after.has(n))
    const added = [...after.keys()].filter((n) => !before.has(n))
    const changed = [...after.keys()].filter((n) => before.has(n) && before.get(n) !== after.get(n))
    const ctx = (name: string) => ({
      dataDir: this.repo.dir,
      log: (line: string) => this.logs.line(name, line),
      origins: () => this.delegates(),
    })
    // build (and so validate) every new one first: a bad entry changes nothing
    const built = new Map(
      [...added, ...changed].map((name) => {
        const i = next.findIndex((b) => b.name === name)
        return [name, buildBackend(next[i]!, ctx(name), `backends[${i}]`)]
      }),
    )
    for (const name of [...removed, ...changed]) await this.supervisor.remove(name)
    for (const [name, backend] of built) {
      await this.supervisor.add(backend)
      this.log.info(
        { backend: name, type: backend.type },
        changed.includes(name) ? 'backend replaced' : 'backend added',
      )
    }
    for (const name of removed) this.log.info({ backend: name }, 'backend removed')
    this.config = { ...this.config, backends: next }
    this.reconciler.nudge()
    return { added, removed, changed }
  }

  /** Applies new intervals (and other live settings) without a restart. */
  private applyConfig(config: Config): void {
    this.config = config
    this.log.level = config.log_level
    this.supervisor.startLoop(config.health_check_interval)
    this.reconciler.startLoop(config.replication_sync_interval)
  }

  /**
   * The embedded node's addresses, each ending in /p2p/<id>: the Pinning Service API's `delegates`,
   * the peers a client connects to so that we can fetch from it. Empty while the node is stopped.
   */
  delegates(): string[] {
    const node = (this.supervisor.all().find((b) => b.name === LOCAL_BACKEND) as LocalBackend | undefined)
      ?.embedded
    if (node == null) return []
    const id = node.libp2p.peerId.toString()
    return node.libp2p.getMultiaddrs().map((a) => {
      const s = a.toString()
      return s.includes('/p2p/') ? s : `${s}/p2p/${id}`
    })
  }

  /**
   * Fetches a pin's whole DAG into the local blockstore over bitswap, from the configured peers
   * (node.peers) and the pin's own origins (the Pinning Service API's), dialled first.
   */
  private async fetch(root: CID): Promise<void> {
    const local = this.supervisor.get(LOCAL_BACKEND) as LocalBackend
    const node = local.embedded
    const origins = this.repo.pins.get(root)?.origins ?? []
    const peers = [...this.config.node.peers, ...origins]
    if (node == null || peers.length === 0) {
      throw new IpfsKitError(
        'ERR_NOT_FOUND',
        "no backend holds it, and no peers are configured to fetch it from (node.peers) nor given as the pin's origins",
      )
    }
    if (origins.length > 0) {
      const { multiaddr } = await import('@multiformats/multiaddr')
      await Promise.all(
        origins.map((o) =>
          node.libp2p.dial(multiaddr(o), { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
            this.log.warn({ origin: o, err: err.message }, 'cannot dial a pin origin')
          }),
        ),
      )
    }
    const ms = this.config.node.fetch_timeout_ms
    const store = {
      async *get(cid: CID) {
        const timeout = AbortSignal.timeout(ms)
        try {
          yield* node.blockstore.get(cid, { signal: timeout })
        } catch (err) {
          if (timeout.aborted) throw new FetchTimeoutError(cid.toString(), ms)
          throw err
        }
      },
    }
    for await (const _ of walkBlocks(store, root)) {
      // each block lands in the local blockstore as it arrives
    }
  }

  /** Graceful stop: no new work, finish the sync in flight, publish the index, stop the backends, close. */
  async close(): Promise<void> {
    if (this.watch != null) clearInterval(this.watch)
    this.reconciler.stopLoop()
    await this.reconciler.drain()
    // publish before stopping the backends: readers routing while the daemon is down want the
    // last health the daemon saw, not "stopped" (the backends themselves are still there)
    await this.index.flush().catch(() => {})
    await this.index.close()
    await this.supervisor.stopAll()
    this.log.info('daemon stopped')
    await this.logs.close()
    await this.repo.close()
  }
}
