import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { IpfsKitError } from '../errors.ts'

/** The daemon is not running (or not reachable) where the client looked. */
export class DaemonUnavailableError extends IpfsKitError {
  constructor(where: string, options?: ErrorOptions) {
    super(
      'ERR_DAEMON_UNAVAILABLE',
      `the daemon is not running (${where}): start it with \`ipfs-kit daemon start\``,
      options,
    )
  }
}

/** An error answer from the daemon, with its stable code and HTTP status. */
export class DaemonApiError extends IpfsKitError {
  readonly status: number
  constructor(code: string, message: string, status: number) {
    super(code, message)
    this.status = status
  }
}

export interface DaemonClientOptions {
  /** The daemon's URL; by default read from `<dataDir>/api`. */
  url?: string
  /** The data directory whose `api` and `api-token` files locate and authorize the daemon. */
  dataDir?: string
  /** Bearer token for mutating calls; by default read from `<dataDir>/api-token`. */
  token?: string
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number
  /** Retries of idempotent calls on connection errors and 503 (default 2, with backoff). */
  retries?: number
}

export interface Policy {
  min_replicas?: number
  max_replicas?: number
  preferred?: string[]
  excluded?: string[]
}

/** Loosely typed JSON from the daemon; each method documents its shape by name. */
export type Json = Record<string, unknown>

/**
 * A typed HTTP client for the daemon: one method per endpoint, timeouts, retries with backoff on
 * idempotent calls only, the token read from the data directory, and errors with stable codes.
 */
/** Filters of `GET /pins` (the Pinning Service API's). */
export interface PinsQuery {
  status?: string
  cid?: string
  name?: string
  /** How `name` matches: exact (default), iexact, partial, ipartial (the Pinning Service API's `match`). */
  match?: 'exact' | 'iexact' | 'partial' | 'ipartial'
  limit?: number
  /** A CID (the requestid of a listed pin: pins listed after it) or an ISO time (created before it). */
  before?: string
  /** A CID (pins listed before it) or an ISO time (created after it). */
  after?: string
}

export class DaemonClient {
  readonly url: string | undefined
  private readonly dataDir: string | undefined
  private token: string | undefined
  private readonly timeoutMs: number
  private readonly retries: number

  constructor(opts: DaemonClientOptions = {}) {
    this.dataDir = opts.dataDir
    this.url = (
      opts.url ?? (opts.dataDir != null ? readFile(join(opts.dataDir, 'api')) : undefined)
    )?.replace(/\/$/, '')
    this.token = opts.token
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.retries = opts.retries ?? 2
  }

  health(): Promise<{ status: string; version: string; uptime_s: number }> {
    return this.request('GET', '/health')
  }
  status(): Promise<Json> {
    return this.request('GET', '/status')
  }
  backends(): Promise<{ backends: Json[] }> {
    return this.request('GET', '/backends')
  }
  backendsHealth(probe = false): Promise<Record<string, Json>> {
    return this.request('GET', `/backends/health${probe ? '?probe=true' : ''}`)
  }
  /** Adds a backend (its config entry: name, type and the type's keys); it starts at once. */
  addBackend(entry: { name: string; type: string } & Record<string, unknown>): Promise<{ backend: Json }> {
    return this.request('POST', '/backends', entry)
  }
  removeBackend(name: string): Promise<{ removed: string }> {
    return this.request('DELETE', `/backends/${encodeURIComponent(name)}`)
  }
  startBackend(name: string): Promise<{ backend: Json }> {
    return this.request('POST', `/backends/start/${encodeURIComponent(name)}`)
  }
  stopBackend(name: string): Promise<{ backend: Json }> {
    return this.request('POST', `/backends/stop/${encodeURIComponent(name)}`)
  }
  logs(name: string, lines = 100): Promise<{ name: string; lines: string[] }> {
    return this.request('GET', `/logs/${encodeURIComponent(name)}?lines=${lines}`)
  }
  /** Totals, and one page of per-pin state in CID order (`after`: the `next` of the previous page). */
  replicationStatus(limit = 100, after?: string): Promise<Json> {
    const qs = new URLSearchParams({ limit: String(limit) })
    if (after != null) qs.set('after', after)
    return this.request('GET', `/replication/status?${qs}`)
  }
  /**
   * Starts a replication pass (`{ started, pass }`); with `wait`, resolves with `{ report }` when that
   * pass ends, however long it takes: it follows the pass on /events rather than holding one request
   * open, so the per-request timeout does not apply (only `signal`, the caller's own limit).
   */
  sync(
    opts: { verify?: boolean; wait?: boolean; signal?: AbortSignal; onEvent?: (e: SyncEvent) => void } = {},
  ): Promise<Json> {
    if (opts.wait === true) return this.syncAndWait(opts)
    return this.request('POST', '/replication/sync', { verify: opts.verify })
  }
  /**
   * One page of pins, newest first (the Pinning Service API: `limit` <= 1000, default 10). For the
   * next page pass `before`: the last result's requestid; `before`/`after` also take ISO times.
   */
  pins(query: PinsQuery = {}): Promise<{ count: number; results: Json[] }> {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v != null) qs.set(k, String(v))
    return this.request('GET', `/pins${qs.size > 0 ? `?${qs}` : ''}`)
  }

  /** Every pin matching `query`, page after page (`pageSize` per request), as they arrive. */
  async *allPins(query: Omit<PinsQuery, 'limit'> = {}, pageSize = 1000): AsyncGenerator<Json> {
    let before = query.before
    for (;;) {
      const page = await this.pins({ ...query, before, limit: pageSize })
      yield* page.results
      if (page.results.length < pageSize) return
      before = String(page.results.at(-1)!.requestid)
    }
  }
  pin(cid: string, opts: { name?: string; policy?: Policy } = {}): Promise<Json> {
    return this.request('POST', '/pins', { cid, ...opts })
  }
  getPin(cid: string): Promise<Json> {
    return this.request('GET', `/pins/${encodeURIComponent(cid)}`)
  }
  unpin(cid: string): Promise<void> {
    return this.request('DELETE', `/pins/${encodeURIComponent(cid)}`)
  }
  config(): Promise<Json>
  /** With `origin`: also the layer each value came from (default, file, env, flag), and keys pending a restart. */
  config(opts: { origin: true }): Promise<{
    config: Record<string, unknown>
    origins: Record<string, string>
    pending_restart: string[]
  }>
  config(opts: { origin?: boolean } = {}): Promise<Json> {
    return this.request('GET', opts.origin ? '/config?origin=true' : '/config')
  }
  /** Saves keys to config.json; `overridden` lists those an IPFS_KIT_* variable or a start-up flag still overrides. */
  setConfig(patch: Json): Promise<{ config: Json; restart_needed: string[]; overridden: string[] }> {
    return this.request('PUT', '/config', patch)
  }
  /** Garbage collection in the daemon; waits as long as it takes (progress: `gc` events). */
  gc(): Promise<GcReport> {
    return this.request('POST', '/repo/gc', { wait: true }, 'json', 0)
  }
  metrics(): Promise<string> {
    return this.request('GET', '/metrics', undefined, 'text')
  }
  healthHistory(name: string): Promise<{ name: string; history: Json[] }> {
    return this.request('GET', `/backends/${encodeURIComponent(name)}/health/history`)
  }
  openapi(): Promise<Json> {
    return this.request('GET', '/openapi.json')
  }

  /** The daemon's Server-Sent Events (health, backend, pin, replica, replication, index) until `signal` aborts. */
  async *events(signal?: AbortSignal): AsyncGenerator<Json & { type: string }> {
    let res: Response
    try {
      res = await this.openEvents(signal ?? new AbortController().signal)
    } catch (err) {
      if ((err as Error).name === 'AbortError') return
      throw err
    }
    yield* this.parseEvents(res)
  }

  private async syncAndWait(opts: {
    verify?: boolean
    signal?: AbortSignal
    onEvent?: (e: SyncEvent) => void
  }): Promise<Json> {
    const stop = new AbortController()
    const signal = opts.signal == null ? stop.signal : AbortSignal.any([stop.signal, opts.signal])
    try {
      // subscribe first (the daemon has subscribed us once the answer's headers arrive), then start
      // the pass, so its `finished` event cannot slip by between the two
      const stream = await this.openEvents(signal)
      const started = await this.request<{ pass?: number }>('POST', '/replication/sync', {
        verify: opts.verify,
      })
      if (started.pass == null) {
        // a daemon that does not number its passes: hold the request open instead
        return await this.request('POST', '/replication/sync', { verify: opts.verify, wait: true })
      }
      const pass = started.pass
      for await (const e of this.parseEvents(stream)) {
        if (e.type !== 'replication') continue
        const event = e as unknown as SyncEvent
        if (event.pass !== pass) continue
        opts.onEvent?.(event)
        if (event.phase === 'finished') return { report: reportOf(event) }
      }
      signal.throwIfAborted()
      // the event stream ended (the daemon restarted, or dropped a slow reader): poll until the pass is done
      for (;;) {
        const status = await this.request<{ last_sync?: Json | null }>('GET', '/replication/status?limit=0')
        if (Number(status.last_sync?.pass ?? 0) >= pass) return { report: status.last_sync }
        await new Promise((r) => setTimeout(r, 1000))
        signal.throwIfAborted()
      }
    } finally {
      stop.abort()
    }
  }

  private async openEvents(signal: AbortSignal): Promise<Response> {
    if (this.url == null) throw new DaemonUnavailableError(`no ${this.dataDir ?? '<data>'}/api file`)
    try {
      return await fetch(`${this.url}/events`, { signal })
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      throw new DaemonUnavailableError(`nothing answers at ${this.url}`, { cause: err })
    }
  }

  /** The `data:` payloads of an SSE answer, parsed; ends quietly when the request is aborted. */
  private async *parseEvents(res: Response): AsyncGenerator<Json & { type: string }> {
    if (res.body == null) return
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        let end = buffer.indexOf('\n\n')
        while (end !== -1) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          buffer = buffer.slice(end + 2)
          if (data !== '') yield JSON.parse(data) as Json & { type: string }
          end = buffer.indexOf('\n\n')
        }
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err
    }
  }

  private authHeader(): string | undefined {
    if (this.token == null && this.dataDir != null) this.token = readFile(join(this.dataDir, 'api-token'))
    return this.token == null ? undefined : `Bearer ${this.token}`
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    as: 'json' | 'text' = 'json',
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    if (this.url == null) throw new DaemonUnavailableError(`no ${this.dataDir ?? '<data>'}/api file`)
    const idempotent = method === 'GET' || method === 'PUT' || method === 'DELETE'
    const headers: Record<string, string> = {}
    if (method !== 'GET') {
      const auth = this.authHeader()
      if (auth != null) headers.authorization = auth
    }
    if (body !== undefined) headers['content-type'] = 'application/json'
    for (let attempt = 0; ; attempt++) {
      let res: Response
      try {
        res = await fetch(`${this.url}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          // 0: no limit but the caller's (a long gc)
          signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined,
        })
      } catch (err) {
        if (idempotent && attempt < this.retries) {
          await backoff(attempt)
          continue
        }
        if ((err as Error).name === 'TimeoutError') {
          throw new IpfsKitError(
            'ERR_TIMEOUT',
            `the daemon at ${this.url} did not answer ${method} ${path} within ${timeoutMs} ms`,
          )
        }
        throw new DaemonUnavailableError(`nothing answers at ${this.url}`, { cause: err })
      }
      if (res.status === 503 && idempotent && attempt < this.retries) {
        await backoff(attempt)
        continue
      }
      if (!res.ok) {
        const text = await res.text()
        let code = 'ERR_HTTP'
        let message = `${method} ${path}: HTTP ${res.status}`
        try {
          const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } }
          code = parsed.error?.code ?? code
          message = parsed.error?.message ?? message
        } catch {}
        throw new DaemonApiError(code, message, res.status)
      }
      if (res.status === 202 && method === 'DELETE') return undefined as T
      return (as === 'text' ? await res.text() : await res.json()) as T
    }
  }
}

/** What a gc removed and reclaimed (see content/gc.ts). */
export interface GcReport {
  removedBlocks: number
  removedBytes: number
  packsReclaimed: number
  damaged: string[]
  deferred: boolean
}

/** A replication event of one pass, as `sync({ wait: true, onEvent })` passes it on. */
export interface SyncEvent {
  type: 'replication'
  phase: 'started' | 'progress' | 'finished'
  pass: number
  pins: number
  done?: number
  copied?: number
  verified?: number
  failed?: number
  removed?: number
  swept?: number
  ms?: number
}

/** The pass's report, from its `finished` event. */
function reportOf(e: SyncEvent): Json {
  const { pass, pins, copied, verified, failed, removed, swept, ms } = e
  return { pass, pins, copied, verified, failed, removed, swept, ms }
}

function readFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim() || undefined
  } catch {
    return undefined
  }
}

function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, 100 * 2 ** attempt))
}
