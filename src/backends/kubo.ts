import { mkdir, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import * as z from 'zod'
import { BackendError } from '../errors.ts'
import { verifyCar } from './filesystem.ts'
import { initKuboRepo, type KuboProcess, startKuboProcess } from './kubo-process.ts'
import { multiaddrToUrl, serviceUrl } from './options.ts'
import { abortable, carMultipart, type PostedAnswer, postStream } from './streams.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, VerifyResult } from './types.ts'

/**
 * Config of a `kubo` backend. Attached: `api_url` names a Kubo RPC API someone else runs (we never
 * start or stop it). Managed (no `api_url`): the daemon keeps a Kubo repo under
 * `<data>/backends/<name>/kubo` with an offline loopback config and runs `ipfs daemon` on it.
 */
export const KuboOptions = z
  .object({
    name: z.string(),
    type: z.literal('kubo'),
    api_url: serviceUrl('/ip4/127.0.0.1/tcp/5001').optional(),
    /** Kubo's `ipfs` binary for a managed node. */
    bin: z.string().min(1).default('ipfs'),
    /** Swarm listen addresses of a managed node (default: 127.0.0.1, a free port). */
    swarm: z.array(z.string().startsWith('/')).optional(),
    /** How long one RPC call (other than a transfer) may take, in milliseconds. */
    timeout_ms: z.number().int().positive().max(600_000).default(30_000),
  })
  .strict()

/** Kubo's RPC error body. */
interface KuboError {
  Message?: string
}

/**
 * A Kubo node, through its RPC API: a pin is `dag import` of the CAR with its root pinned, read back
 * with `dag export`; `has` is a recursive pin (Kubo pins a DAG only once every block is there).
 * Reads and checks run with `offline=true`, so a block Kubo lacks is an error, never a network wait.
 */
export class KuboBackend implements Backend {
  readonly type = 'kubo'
  readonly name: string
  private readonly opts: z.infer<typeof KuboOptions>
  private readonly ctx: BackendContext
  private readonly repoPath: string | undefined
  private proc: KuboProcess | undefined
  private api: string | undefined

  constructor(opts: z.infer<typeof KuboOptions>, ctx: BackendContext) {
    this.name = opts.name
    this.opts = opts
    this.ctx = ctx
    this.api = opts.api_url == null ? undefined : multiaddrToUrl(opts.api_url)
    this.repoPath = opts.api_url == null ? join(ctx.dataDir, 'backends', opts.name, 'kubo') : undefined
  }

  get managed(): boolean {
    return this.repoPath != null
  }

  /** The running managed process (for tests and `backend show`), if any. */
  get process(): KuboProcess | undefined {
    return this.proc
  }

  async start(): Promise<void> {
    if (this.repoPath == null) {
      this.ctx.log(`kubo backend ${this.name} attached to ${this.api}`)
      return
    }
    const running = this.proc
    if (running != null && running.child.exitCode == null && running.child.signalCode == null) return
    this.proc = undefined
    await mkdir(this.repoPath, { recursive: true, mode: 0o700 })
    await initKuboRepo(this.opts.bin, this.repoPath, { swarm: this.opts.swarm })
    const proc = await startKuboProcess(this.opts.bin, this.repoPath, { log: (line) => this.ctx.log(line) })
    proc.child.once('exit', (code, signal) => {
      if (this.proc === proc) this.ctx.log(`kubo daemon exited (${code ?? signal})`)
    })
    this.proc = proc
    this.api = proc.apiUrl
    this.ctx.log(`kubo daemon ${proc.child.pid} started, RPC at ${proc.apiUrl}`)
  }

  async stop(): Promise<void> {
    const proc = this.proc
    this.proc = undefined
    if (proc != null) {
      await proc.stop()
      this.ctx.log('kubo daemon stopped')
    }
  }

  async health(signal?: AbortSignal): Promise<HealthReport> {
    const started = performance.now()
    try {
      if (
        this.managed &&
        (this.proc == null || this.proc.child.exitCode != null || this.proc.child.signalCode != null)
      ) {
        throw new Error('the managed kubo daemon is not running')
      }
      await this.json('id', {}, signal)
      const repo = await this.json<{ RepoSize: number; StorageMax: number }>(
        'repo/stat',
        { 'size-only': 'true' },
        signal,
      )
      let freeBytes = Math.max(0, repo.StorageMax - repo.RepoSize)
      if (this.repoPath != null) {
        const fs = await statfs(this.repoPath)
        freeBytes = Math.min(freeBytes, fs.bavail * fs.bsize)
      }
      return {
        status: freeBytes < 64 * 1024 * 1024 ? 'degraded' : 'healthy',
        latencyMs: performance.now() - started,
        freeBytes,
        usedBytes: repo.RepoSize,
      }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  async has(root: CID): Promise<boolean> {
    const res = await this.call('pin/ls', { arg: root.toString(), type: 'recursive' })
    if (res.ok) {
      await res.body?.cancel()
      return true
    }
    const message = await errorMessage(res)
    if (/not pinned/i.test(message)) return false
    throw this.error('pin/ls', message)
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const form = carMultipart(root, car, opts.signal)
    if (this.api == null) throw this.error('dag import', 'the managed kubo daemon is not running')
    const url = `${this.api}/api/v0/dag/import?${new URLSearchParams({ 'pin-roots': 'true', stats: 'false' })}`
    let res: PostedAnswer
    try {
      res = await postStream(url, { 'content-type': form.contentType }, form.body, opts.signal)
    } catch (err) {
      if (opts.signal?.aborted) throw err
      throw this.error('dag import', (err as Error).message)
    }
    if (!res.ok) throw this.error('dag import', kuboMessage(res.text, res.status))
    // one JSON object per root: {"Root":{"Cid":{"/":"..."},"PinErrorMsg":""}}; a trailer may carry an error
    const text = res.text
    let pinned = false
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue
      const out = JSON.parse(line) as {
        Root?: { Cid?: { '/': string }; PinErrorMsg?: string }
        Message?: string
      }
      if (out.Message != null) throw this.error('dag import', out.Message)
      if (out.Root?.PinErrorMsg)
        throw this.error('dag import', `pinning ${out.Root.Cid?.['/']}: ${out.Root.PinErrorMsg}`)
      if (out.Root?.Cid?.['/'] != null) pinned = true
    }
    if (!pinned || !(await this.has(root))) throw this.error('dag import', `root ${root} was not pinned`)
  }

  async *get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    const res = await this.call(
      'dag/export',
      { arg: root.toString(), progress: 'false', offline: 'true' },
      { signal: opts.signal, transfer: true },
    )
    if (!res.ok || res.body == null) throw this.error('dag export', await errorMessage(res))
    // Kubo reports an error met mid-stream in the X-Stream-Error trailer: a CAR that ends early is
    // caught by the reader (a missing block), so the bytes are passed on as they come
    yield* abortable(res.body as unknown as AsyncIterable<Uint8Array>, opts.signal)
  }

  async verify(root: CID): Promise<VerifyResult> {
    try {
      return await verifyCar(this.get(root), root)
    } catch (err) {
      return { ok: false, blocks: 0, bytes: 0, error: (err as Error).message }
    }
  }

  async unpin(root: CID): Promise<void> {
    const res = await this.call('pin/rm', { arg: root.toString() })
    if (res.ok) {
      await res.body?.cancel()
      return
    }
    const message = await errorMessage(res)
    if (/not pinned/i.test(message)) return
    throw this.error('pin rm', message)
  }

  async stat(): Promise<BackendStat> {
    const repo = await this.json<{ RepoSize: number; StorageMax: number }>('repo/stat', {
      'size-only': 'true',
    })
    const res = await this.call(
      'pin/ls',
      { type: 'recursive', stream: 'true', quiet: 'true' },
      { transfer: true },
    )
    if (!res.ok || res.body == null) throw this.error('pin ls', await errorMessage(res))
    let pins = 0
    const decoder = new TextDecoder()
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const c of decoder.decode(chunk, { stream: true })) if (c === '\n') pins++
    }
    return { usedBytes: repo.RepoSize, freeBytes: Math.max(0, repo.StorageMax - repo.RepoSize), pins }
  }

  /** POSTs an RPC call; `transfer` calls (CARs) have no deadline of their own, only `signal`. */
  private async call(
    command: string,
    args: Record<string, string>,
    init: {
      body?: ReadableStream
      headers?: Record<string, string>
      signal?: AbortSignal
      transfer?: boolean
    } = {},
  ): Promise<Response> {
    if (this.api == null) throw this.error(command, 'the managed kubo daemon is not running')
    const signals = [
      init.signal,
      init.transfer ? undefined : AbortSignal.timeout(this.opts.timeout_ms),
    ].filter((s): s is AbortSignal => s != null)
    const url = `${this.api}/api/v0/${command}?${new URLSearchParams(args)}`
    try {
      return await fetch(url, {
        method: 'POST',
        body: init.body,
        headers: init.headers,
        signal: signals.length === 0 ? undefined : AbortSignal.any(signals),
        ...(init.body != null ? { duplex: 'half' } : {}),
      } as RequestInit)
    } catch (err) {
      if ((err as Error).name === 'AbortError' && init.signal?.aborted) throw err
      const cause = (err as { cause?: Error }).cause
      throw this.error(command, cause?.message ?? (err as Error).message)
    }
  }

  private async json<T>(command: string, args: Record<string, string>, signal?: AbortSignal): Promise<T> {
    const res = await this.call(command, args, { signal })
    if (!res.ok) throw this.error(command, await errorMessage(res))
    return (await res.json()) as T
  }

  private error(command: string, message: string): BackendError {
    return new BackendError(`kubo backend ${this.name}: ${command}: ${message}`)
  }
}

async function errorMessage(res: Response): Promise<string> {
  return kuboMessage(await res.text().catch(() => ''), res.status)
}

function kuboMessage(text: string, status: number): string {
  try {
    return (JSON.parse(text) as KuboError).Message ?? text
  } catch {
    return text.trim() || `HTTP ${status}`
  }
}
