import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { IpfsKitError } from '../errors.ts'

export interface PublishResult {
  rows: number
  pins: number
  ms: number
  path: string
}

/**
 * A worker thread that writes the pin index, so that building a million-row parquet file never
 * blocks the daemon's event loop. Under tsx (tests run from source) the worker is the .ts file.
 */
class PublishWorker {
  private readonly worker: Worker
  private seq = 0

  constructor() {
    const fromSource = import.meta.url.endsWith('.ts')
    if (fromSource) {
      // tsx's loader does not reach a worker's entry module on Node 20: register it inside the worker
      const entry = new URL('./publish-worker.ts', import.meta.url).href
      const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`
      this.worker = new Worker(boot, { eval: true })
    } else {
      this.worker = new Worker(new URL('./publish-worker.js', import.meta.url))
    }
    this.worker.unref()
  }

  publish(dataDir: string, context: IndexContext = {}): Promise<PublishResult> {
    const seq = ++this.seq
    return new Promise((resolve, reject) => {
      const onMessage = (msg: ({ ok: true } & PublishResult) | { ok: false; error: string }) => {
        this.worker.off('error', onError)
        if (msg.ok) resolve({ rows: msg.rows, pins: msg.pins, ms: msg.ms, path: msg.path })
        else reject(new IpfsKitError('ERR_INDEX', `publishing the pin index failed: ${msg.error}`))
      }
      const onError = (err: Error) => {
        this.worker.off('message', onMessage)
        reject(err)
      }
      this.worker.once('message', onMessage)
      this.worker.once('error', onError)
      this.worker.postMessage({ dataDir, seq, context })
    })
  }

  close(): Promise<number> {
    return this.worker.terminate()
  }
}

/**
 * What the daemon knows besides the pins, stored in the file's key-value metadata as JSON under
 * `ipfs-kit.<key>`: `backends` (name, type, state, health, latency, free bytes) and `policy`.
 */
export type IndexContext = Record<string, unknown>

/** Publishes `<data>/index/pins.parquet` once (in a short-lived worker thread). */
export async function publishPinIndex(dataDir: string, context: IndexContext = {}): Promise<PublishResult> {
  mkdirSync(join(dataDir, 'index'), { recursive: true })
  const worker = new PublishWorker()
  try {
    return await worker.publish(dataDir, context)
  } finally {
    await worker.close()
  }
}

export interface PublisherOptions {
  /** How long to wait after a change for more changes before publishing (default 250 ms). */
  debounceMs?: number
  /** Called at each publish for the metadata to store beside the rows. */
  context?: () => IndexContext
  onPublished?: (r: PublishResult) => void
  onError?: (err: unknown) => void
}

/**
 * Keeps the pin index fresh: schedule() after every change publishes within about a second,
 * with at most one publish in flight; a change during a publish triggers one more after it.
 */
export class PinIndexPublisher {
  private readonly dataDir: string
  private readonly debounceMs: number
  private readonly opts: PublisherOptions
  private worker: PublishWorker | undefined
  private timer: NodeJS.Timeout | undefined
  private inflight: Promise<void> | undefined
  private dirty = false
  private closed = false

  constructor(dataDir: string, opts: PublisherOptions = {}) {
    this.dataDir = dataDir
    this.debounceMs = opts.debounceMs ?? 250
    this.opts = opts
    mkdirSync(join(dataDir, 'index'), { recursive: true })
  }

  /** Notes a change; the index is republished shortly. */
  schedule(): void {
    if (this.closed) return
    this.dirty = true
    if (this.timer != null || this.inflight != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.run()
    }, this.debounceMs)
  }

  /** Publishes now (after any publish in flight) and resolves when the file is in place. */
  async flush(): Promise<void> {
    if (this.closed) return
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    await this.inflight
    this.dirty = true
    await this.run()
  }

  private run(): Promise<void> {
    if (this.inflight != null) return this.inflight
    this.dirty = false
    this.worker ??= new PublishWorker()
    const worker = this.worker
    this.inflight = worker
      .publish(this.dataDir, this.opts.context?.() ?? {})
      .then(
        (r) => this.opts.onPublished?.(r),
        (err: unknown) => this.opts.onError?.(err),
      )
      .finally(() => {
        this.inflight = undefined
        if (this.dirty) this.schedule()
      })
    return this.inflight
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    await this.inflight
    await this.worker?.close()
    this.worker = undefined
  }
}
