import { setTimeout as sleep } from 'node:timers/promises'
import type { CID } from 'multiformats/cid'
import * as z from 'zod'
import { BackendError } from '../errors.ts'
import { httpUrl } from './options.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, VerifyResult } from './types.ts'

/**
 * Config of a `pinning-service` backend: any IPFS Pinning Service API endpoint (Pinata, Filebase,
 * web3.storage, another ipfs-kit's `/psa`). `endpoint` is the API's base URL, the one Kubo's
 * `ipfs pin remote service add` takes; `token` its Bearer token (a secret: redacted from GET /config).
 */
export const PinningServiceOptions = z
  .object({
    name: z.string(),
    type: z.literal('pinning-service'),
    endpoint: httpUrl,
    token: z.string().min(1).optional(),
    /** The environment variable holding the token, when it is not in the config. */
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    /** How often a pin request's status is polled while the service fetches it, in milliseconds. */
    poll_interval_ms: z.number().int().min(50).max(60_000).default(1000),
    /** How long the service may take to report a request pinned before the copy fails, in milliseconds. */
    pin_timeout_ms: z.number().int().positive().max(86_400_000).default(600_000),
    /** How long one API call may take, in milliseconds. */
    timeout_ms: z.number().int().positive().max(600_000).default(30_000),
  })
  .strict()
  .refine((o) => o.token != null || o.token_env != null, {
    message: 'a pinning service needs "token" or "token_env"',
    path: ['token'],
  })
  // the same rule for the OpenAPI document
  .meta({ anyOf: [{ required: ['token'] }, { required: ['token_env'] }] })

/** A pin request as the spec's PinStatus. */
interface PinStatus {
  requestid: string
  status: 'queued' | 'pinning' | 'pinned' | 'failed'
  pin: { cid: string; name?: string; meta?: Record<string, string> }
  info?: Record<string, string>
}

/**
 * A remote pinning service, through the IPFS Pinning Service API. It stores nothing we send it:
 * `put` asks the service to pin the CID, naming our embedded node's addresses as `origins`, and the
 * service fetches the DAG from us over bitswap (so the content must be on the `local` backend, which
 * the reconciler copies from first). The pin is counted once the service reports it `pinned`; a
 * service gives no read path, so `get` refuses and `verify` is the service's word (status pinned),
 * not a re-hash: the one backend type whose replicas are claims. Each request carries
 * `meta.ipfs_kit_backend` = this backend's name, so `has`, `unpin` and `stat` see only our requests
 * on a service other clients share.
 */
export class PinningServiceBackend implements Backend {
  readonly type = 'pinning-service'
  readonly name: string
  private readonly opts: z.infer<typeof PinningServiceOptions>
  private readonly ctx: BackendContext
  private readonly base: string

  constructor(opts: z.infer<typeof PinningServiceOptions>, ctx: BackendContext) {
    this.name = opts.name
    this.opts = opts
    this.ctx = ctx
    this.base = opts.endpoint.replace(/\/+$/, '')
  }

  async start(): Promise<void> {
    this.token() // a missing token_env fails the start, named
    this.ctx.log(`pinning-service backend ${this.name} at ${this.base}`)
  }

  async stop(): Promise<void> {}

  async health(signal?: AbortSignal): Promise<HealthReport> {
    const started = performance.now()
    try {
      await this.list({ limit: '1', status: 'pinned' }, signal)
      return { status: 'healthy', latencyMs: performance.now() - started }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  async has(root: CID): Promise<boolean> {
    return (await this.requests(root, 'pinned')).length > 0
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    // the service fetches the DAG itself: the stream is never opened
    await (car as AsyncGenerator<Uint8Array>).return?.(undefined)
    const origins = this.ctx.origins?.() ?? []
    const existing = await this.requests(root, 'queued,pinning,pinned')
    let request =
      existing.find((r) => r.status === 'pinned') ??
      existing[0] ??
      (await this.json<PinStatus>('POST', '/pins', {
        body: {
          cid: root.toString(),
          name: root.toString(),
          origins,
          meta: { ipfs_kit_backend: this.name },
        },
        signal: opts.signal,
      }))
    this.ctx.log(`pin request ${request.requestid} for ${root}: ${request.status}`)
    const deadline = Date.now() + this.opts.pin_timeout_ms
    try {
      while (request.status !== 'pinned') {
        if (request.status === 'failed') {
          const reason = Object.values(request.info ?? {}).join('; ')
          throw this.error('pin', `the service failed the pin request${reason ? `: ${reason}` : ''}`)
        }
        if (Date.now() > deadline)
          throw this.error(
            'pin',
            `not pinned within ${this.opts.pin_timeout_ms} ms (still ${request.status})`,
          )
        await sleep(this.opts.poll_interval_ms, undefined, { signal: opts.signal })
        request = await this.json<PinStatus>('GET', `/pins/${encodeURIComponent(request.requestid)}`, {
          signal: opts.signal,
        })
      }
    } catch (err) {
      // cancelled or failed: leave no request behind that would go on to pin it
      if (existing.length === 0) await this.remove(request.requestid).catch(() => {})
      throw err
    }
    this.ctx.log(`pin request ${request.requestid} for ${root}: pinned`)
  }

  // biome-ignore lint/correctness/useYield: a service has no read path; the generator only refuses
  async *get(root: CID): AsyncIterable<Uint8Array> {
    throw this.error('get', `a pinning service gives no read path: ${root} cannot be read back from it`)
  }

  async verify(root: CID): Promise<VerifyResult> {
    try {
      const pinned = await this.requests(root, 'pinned')
      if (pinned.length > 0) return { ok: true, blocks: 0, bytes: 0 }
      const other = await this.requests(root, 'queued,pinning,failed')
      return {
        ok: false,
        blocks: 0,
        bytes: 0,
        error:
          other.length === 0
            ? `the service has no pin request for ${root}`
            : `the service reports ${root} ${other[0]!.status}`,
      }
    } catch (err) {
      return { ok: false, blocks: 0, bytes: 0, error: (err as Error).message }
    }
  }

  async unpin(root: CID): Promise<void> {
    for (const r of await this.requests(root, 'queued,pinning,pinned,failed')) await this.remove(r.requestid)
  }

  async stat(): Promise<BackendStat> {
    const res = await this.list({ limit: '1', status: 'pinned', meta: this.metaFilter() })
    return { usedBytes: 0, pins: res.count }
  }

  private async requests(root: CID, status: string): Promise<PinStatus[]> {
    const res = await this.list({
      cid: root.toString(),
      status,
      limit: '1000',
      meta: this.metaFilter(),
    })
    return res.results
  }

  private metaFilter(): string {
    return JSON.stringify({ ipfs_kit_backend: this.name })
  }

  private list(
    query: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ count: number; results: PinStatus[] }> {
    return this.json('GET', `/pins?${new URLSearchParams(query)}`, { signal })
  }

  private async remove(requestid: string): Promise<void> {
    const res = await this.call('DELETE', `/pins/${encodeURIComponent(requestid)}`)
    if (!res.ok && res.status !== 404) throw this.error('unpin', await failure(res))
    await res.body?.cancel()
  }

  private async json<T>(
    method: string,
    path: string,
    init: { body?: unknown; signal?: AbortSignal } = {},
  ): Promise<T> {
    const res = await this.call(method, path, init)
    if (!res.ok) throw this.error(`${method} ${path.split('?')[0]}`, await failure(res))
    return (await res.json()) as T
  }

  private async call(
    method: string,
    path: string,
    init: { body?: unknown; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const signals = [init.signal, AbortSignal.timeout(this.opts.timeout_ms)].filter(
      (s): s is AbortSignal => s != null,
    )
    try {
      return await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token()}`,
          ...(init.body != null ? { 'content-type': 'application/json' } : {}),
        },
        body: init.body != null ? JSON.stringify(init.body) : undefined,
        signal: AbortSignal.any(signals),
      })
    } catch (err) {
      if ((err as Error).name === 'AbortError' && init.signal?.aborted) throw err
      const cause = (err as { cause?: Error }).cause
      throw this.error(`${method} ${path.split('?')[0]}`, cause?.message ?? (err as Error).message)
    }
  }

  private token(): string {
    const token = this.opts.token ?? process.env[this.opts.token_env ?? '']
    if (token == null || token === '')
      throw this.error(
        'start',
        `the environment variable ${this.opts.token_env} holding the token is not set`,
      )
    return token
  }

  private error(what: string, message: string): BackendError {
    return new BackendError(`pinning-service backend ${this.name}: ${what}: ${message}`)
  }
}

/** The spec's Failure body `{error: {reason, details}}` as one line. */
async function failure(res: Response): Promise<string> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { error?: { reason?: string; details?: string } }
    if (body.error?.reason != null)
      return `HTTP ${res.status} ${body.error.reason}${body.error.details ? `: ${body.error.details}` : ''}`
  } catch {}
  return `HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 200)}` : ''}`
}
