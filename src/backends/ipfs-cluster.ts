import type { CID } from 'multiformats/cid'
import * as z from 'zod'
import { BackendError } from '../errors.ts'
import { verifyCar } from './filesystem.ts'
import { bothOrNeither, multiaddrToUrl, serviceUrl } from './options.ts'
import { abortable, carMultipart, type PostedAnswer, postStream } from './streams.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, PutOptions, VerifyResult } from './types.ts'

const clusterUrl = serviceUrl('/ip4/127.0.0.1/tcp/9094')

/**
 * Config of an `ipfs-cluster` backend: a running IPFS Cluster (v1.0), through one peer's REST API
 * (`api_url`, port 9094 by default) and, for reading pins back, its IPFS proxy (`proxy_url`, 9095).
 * The cluster's replication factors default to the pin's policy (min/max replicas); set them here to
 * fix them for every pin this backend places.
 */
export const IpfsClusterOptions = z
  .object({
    name: z.string(),
    type: z.literal('ipfs-cluster'),
    api_url: clusterUrl,
    proxy_url: clusterUrl.optional(),
    /** Basic auth of the REST API (`basic_auth_credentials` in the cluster's service.json). */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    replication_factor_min: z.number().int().min(-1).max(1000).optional(),
    replication_factor_max: z.number().int().min(-1).max(1000).optional(),
    poll_interval_ms: z.number().int().min(50).max(60_000).default(500),
    /** How long the allocated peers may take to report a new pin pinned, in milliseconds. */
    pin_timeout_ms: z.number().int().positive().max(86_400_000).default(600_000),
    /** How long one API call (other than a transfer) may take, in milliseconds. */
    timeout_ms: z.number().int().positive().max(600_000).default(30_000),
  })
  .strict()
  .refine((o) => (o.username == null) === (o.password == null), {
    message: 'basic auth needs both "username" and "password"',
    path: ['username'],
  })
  .meta(bothOrNeither('username', 'password'))

/** One peer's view of a pin (the cluster's PinInfoShort). */
interface PeerPin {
  peername: string
  status: string
  error: string
}

/** The cluster's GlobalPinInfo: a pin's status on every peer. */
interface GlobalPinInfo {
  cid: string
  name: string
  allocations: string[] | null
  peer_map: Record<string, PeerPin> | null
}

/** Per-peer states a pin passes through on its way to pinned. */
const IN_PROGRESS = new Set(['pinning', 'pin_queued', 'queued', 'undefined'])

/**
 * An IPFS Cluster: the distributed engine for users who outgrow one machine. A pin goes in as the
 * CAR stream through the cluster's `/add?format=car` (the cluster writes the blocks to the allocated
 * peers' Kubo nodes and pins there), with the replication factors and the pin's name; it counts once
 * every allocated peer reports it pinned. Verification asks every peer (`GET /pins/<cid>`): the
 * replica holds while at least one peer has it pinned, and is reported degraded (with the peer count)
 * when fewer than its allocations do; with `proxy_url` the blocks are also read back and re-hashed.
 */
export class IpfsClusterBackend implements Backend {
  readonly type = 'ipfs-cluster'
  readonly name: string
  private readonly opts: z.infer<typeof IpfsClusterOptions>
  private readonly ctx: BackendContext
  private readonly api: string
  private readonly proxy: string | undefined

  constructor(opts: z.infer<typeof IpfsClusterOptions>, ctx: BackendContext) {
    this.name = opts.name
    this.opts = opts
    this.ctx = ctx
    this.api = multiaddrToUrl(opts.api_url)
    this.proxy = opts.proxy_url == null ? undefined : multiaddrToUrl(opts.proxy_url)
  }

  async start(): Promise<void> {
    this.ctx.log(`ipfs-cluster backend ${this.name} at ${this.api}`)
  }

  async stop(): Promise<void> {}

  async health(signal?: AbortSignal): Promise<HealthReport> {
    const started = performance.now()
    try {
      const id = await this.json<{ id: string; error?: string; ipfs?: { error?: string } }>('GET', '/id', {
        signal,
      })
      if (id.error) throw new Error(`peer ${id.id}: ${id.error}`)
      if (id.ipfs?.error) throw new Error(`peer ${id.id}'s IPFS daemon: ${id.ipfs.error}`)
      const peers = await this.ndjson<{ id: string; peername?: string; error?: string }>('/peers', signal)
      const down = peers.filter((p) => p.error)
      const report: HealthReport = { status: 'healthy', latencyMs: performance.now() - started }
      if (down.length > 0) {
        report.status = down.length === peers.length ? 'unhealthy' : 'degraded'
        report.error = `${down.length} of ${peers.length} cluster peers unreachable: ${down.map((p) => p.id).join(', ')}`
      }
      return report
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  async has(root: CID): Promise<boolean> {
    const info = await this.status(root)
    return info != null && count(info).pinned > 0
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<void> {
    const min = this.opts.replication_factor_min ?? opts.replication?.min
    const max = this.opts.replication_factor_max ?? opts.replication?.max ?? min
    const query = new URLSearchParams({ format: 'car', stream: 'false', name: opts.name ?? root.toString() })
    if (min != null) query.set('replication-min', String(min))
    if (max != null) query.set('replication-max', String(Math.max(max, min ?? max)))
    query.set('meta-ipfs_kit_backend', this.name)
    const form = carMultipart(root, car, opts.signal)
    try {
      const headers: Record<string, string> = { 'content-type': form.contentType }
      if (this.opts.username != null) headers.authorization = this.basicAuth()
      let res: PostedAnswer
      try {
        res = await postStream(`${this.api}/add?${query}`, headers, form.body, opts.signal)
      } catch (err) {
        if (opts.signal?.aborted) throw err
        throw this.error('add', (err as Error).message)
      }
      const text = res.text
      if (!res.ok) throw this.error('add', failure(res.status, text))
      const trailer = res.headers['x-stream-error']
      if (typeof trailer === 'string' && trailer !== '') throw this.error('add', trailer)
      // an error met after the headers went out comes in the X-Stream-Error trailer or as a JSON line
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue
        const out = JSON.parse(line) as { cid?: string; message?: string; code?: number }
        if (out.message != null && out.cid == null) throw this.error('add', out.message)
        if (out.cid != null && out.cid !== root.toString())
          throw this.error('add', `the cluster added ${out.cid}, not ${root}`)
      }
      await this.waitPinned(root, opts.signal)
    } catch (err) {
      if (opts.signal?.aborted) await this.unpin(root).catch(() => {})
      throw err
    }
    this.ctx.log(`pinned ${root} on the cluster`)
  }

  async *get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    if (this.proxy == null)
      throw this.error(
        'get',
        'no proxy_url is configured: the cluster has no read path without its IPFS proxy',
      )
    const res = await this.fetch(
      `${this.proxy}/api/v0/dag/export?${new URLSearchParams({ arg: root.toString(), offline: 'true', progress: 'false' })}`,
      { method: 'POST', signal: opts.signal },
      'dag export',
    )
    if (!res.ok || res.body == null) throw this.error('dag export', failure(res.status, await res.text()))
    yield* abortable(res.body as unknown as AsyncIterable<Uint8Array>, opts.signal)
  }

  async verify(root: CID): Promise<VerifyResult> {
    try {
      const info = await this.status(root)
      if (info == null) return { ok: false, blocks: 0, bytes: 0, error: `the cluster has no pin of ${root}` }
      const c = count(info)
      if (c.pinned === 0) {
        return {
          ok: false,
          blocks: 0,
          bytes: 0,
          error: `pinned on 0 of ${c.allocated} cluster peers${c.errors.length ? `: ${c.errors.join('; ')}` : ''}`,
        }
      }
      const detail = `${c.pinned < c.allocated ? 'degraded: ' : ''}pinned on ${c.pinned} of ${c.allocated} cluster peers`
      if (this.proxy == null) return { ok: true, blocks: 0, bytes: 0, detail }
      const read = await verifyCar(this.get(root), root)
      return { ...read, detail: read.ok ? detail : undefined }
    } catch (err) {
      return { ok: false, blocks: 0, bytes: 0, error: (err as Error).message }
    }
  }

  async unpin(root: CID): Promise<void> {
    const res = await this.call('DELETE', `/pins/${root}`)
    const text = await res.text()
    if (!res.ok && res.status !== 404 && !/not found|not pinned/i.test(text))
      throw this.error('unpin', failure(res.status, text))
  }

  async stat(): Promise<BackendStat> {
    const pins = await this.ndjson<unknown>('/allocations?filter=pin')
    return { usedBytes: 0, pins: pins.length }
  }

  /** Polls the pin's status until every allocated peer has it pinned; fails on a peer's pin error. */
  private async waitPinned(root: CID, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.opts.pin_timeout_ms
    for (;;) {
      const info = await this.status(root, signal)
      if (info != null) {
        const c = count(info)
        if (c.allocated > 0 && c.pinned === c.allocated) return
        const failed = Object.entries(info.peer_map ?? {}).find(([, p]) => p.status === 'pin_error')
        if (failed != null)
          throw this.error(
            'pin',
            `peer ${failed[1].peername || failed[0]}: ${failed[1].error || 'pin_error'}`,
          )
        if (Date.now() > deadline) {
          throw this.error(
            'pin',
            `pinned on ${c.pinned} of ${c.allocated} allocated peers after ${this.opts.pin_timeout_ms} ms`,
          )
        }
      } else if (Date.now() > deadline) throw this.error('pin', `the cluster does not list ${root}`)
      await new Promise((r) => setTimeout(r, this.opts.poll_interval_ms))
      signal?.throwIfAborted()
    }
  }

  /** The pin's status on every peer, or undefined when the cluster has no such pin. */
  private async status(root: CID, signal?: AbortSignal): Promise<GlobalPinInfo | undefined> {
    const alloc = await this.call('GET', `/allocations/${root}`, { signal })
    const text = await alloc.text()
    if (alloc.status === 404) return undefined
    if (!alloc.ok) throw this.error('allocations', failure(alloc.status, text))
    return this.json<GlobalPinInfo>('GET', `/pins/${root}`, { signal })
  }

  private async ndjson<T>(path: string, signal?: AbortSignal): Promise<T[]> {
    const res = await this.call('GET', path, { signal })
    const text = await res.text()
    if (!res.ok) throw this.error(`GET ${path.split('?')[0]}`, failure(res.status, text))
    const out: T[] = []
    for (const line of text.split('\n')) {
      const t = line.trim()
      if (t === '') continue
      const v = JSON.parse(t) as T | T[]
      if (Array.isArray(v)) out.push(...v)
      else out.push(v)
    }
    return out
  }

  private async json<T>(method: string, path: string, init: { signal?: AbortSignal } = {}): Promise<T> {
    const res = await this.call(method, path, init)
    const text = await res.text()
    if (!res.ok) throw this.error(`${method} ${path.split('?')[0]}`, failure(res.status, text))
    return JSON.parse(text) as T
  }

  private call(
    method: string,
    path: string,
    init: {
      body?: ReadableStream
      headers?: Record<string, string>
      signal?: AbortSignal
      transfer?: boolean
    } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.opts.username != null) headers.authorization = this.basicAuth()
    const signals = [
      init.signal,
      init.transfer ? undefined : AbortSignal.timeout(this.opts.timeout_ms),
    ].filter((s): s is AbortSignal => s != null)
    return this.fetch(
      `${this.api}${path}`,
      {
        method,
        headers,
        body: init.body,
        signal: signals.length === 0 ? undefined : AbortSignal.any(signals),
        ...(init.body != null ? { duplex: 'half' } : {}),
      } as RequestInit,
      `${method} ${path.split('?')[0]}`,
    )
  }

  private basicAuth(): string {
    return `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password}`).toString('base64')}`
  }

  private async fetch(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await fetch(url, init)
    } catch (err) {
      if ((err as Error).name === 'AbortError' && init.signal?.aborted && !isTimeout(init.signal)) throw err
      const cause = (err as { cause?: Error }).cause
      throw this.error(what, cause?.message ?? (err as Error).message)
    }
  }

  private error(what: string, message: string): BackendError {
    return new BackendError(`ipfs-cluster backend ${this.name}: ${what}: ${message}`)
  }
}

function isTimeout(signal: AbortSignal): boolean {
  return (signal.reason as Error | undefined)?.name === 'TimeoutError'
}

/** How many of a pin's allocated peers report it pinned, and the errors of the others. */
function count(info: GlobalPinInfo): { pinned: number; allocated: number; errors: string[] } {
  const peers = Object.entries(info.peer_map ?? {})
  const allocations = info.allocations ?? []
  // replication -1 (everywhere) has no allocations: every peer counts
  const wanted = allocations.length > 0 ? peers.filter(([id]) => allocations.includes(id)) : peers
  const pinned = wanted.filter(([, p]) => p.status === 'pinned').length
  const errors = wanted
    .filter(([, p]) => p.status !== 'pinned' && !IN_PROGRESS.has(p.status))
    .map(([id, p]) => `${p.peername || id}: ${p.status}${p.error ? ` (${p.error.split('\n')[0]})` : ''}`)
  return { pinned, allocated: Math.max(allocations.length, wanted.length), errors }
}

/** The cluster's error body `{code, message}` as one line. */
function failure(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { message?: string }
    if (body.message) return `HTTP ${status}: ${body.message}`
  } catch {}
  return `HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`
}
