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
  startBackend(name: string): Promise<{ backend: Json }> {
    return this.request('POST', `/backends/start/${encodeURIComponent(name)}`)
  }
  stopBackend(name: string): Promise<{ backend: Json }> {
    return this.request('POST', `/backends/stop/${encodeURIComponent(name)}`)
  }
  logs(name: string, lines = 100): Promise<{ name: string; lines: string[] }> {
    return this.request('GET', `/logs/${encodeURIComponent(name)}?lines=${lines}`)
  }
  replicationStatus(limit = 1000): Promise<Json> {
    return this.request('GET', `/replication/status?limit=${limit}`)
  }
  sync(opts: { verify?: boolean; wait?: boolean } = {}): Promise<Json> {
    return this.request('POST', '/replication/sync', opts)
  }
  pins(
    query: { status?: string; cid?: string; name?: string; limit?: number } = {},
  ): Promise<{ count: number; results: Json[] }> {
    const qs = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v != null) qs.set(k, String(v))
    return this.request('GET', `/pins${qs.size > 0 ? `?${qs}` : ''}`)
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
    if (this.url == null) throw new DaemonUnavailableError(`no ${this.dataDir ?? '<data>'}/api file`)
    let res: Response
    try {
      res = await fetch(`${this.url}/events`, { signal })
    } catch (err) {
      if ((err as Error).name === 'AbortError') return
      throw new DaemonUnavailableError(`nothing answers at ${this.url}`, { cause: err })
    }
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
          signal: AbortSignal.timeout(this.timeoutMs),
        })
      } catch (err) {
        if (idempotent && attempt < this.retries) {
          await backoff(attempt)
          continue
        }
        if ((err as Error).name === 'TimeoutError') {
          throw new IpfsKitError(
            'ERR_TIMEOUT',
            `the daemon at ${this.url} did not answer ${method} ${path} within ${this.timeoutMs} ms`,
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
