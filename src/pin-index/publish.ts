import { Worker } from 'node:worker_threads'
import { IpfsKitError } from '../errors.ts'
import type { PublishReply, PublishRequest } from './publish-worker.ts'

export interface PublishResult {
  /** Rows written: one per (pin, backend), and one for each pin with no replica. */
  rows: number
  pins: number
  /** Time spent in the worker, reading state.db and writing the file. */
  ms: number
  path: string
}

/**
 * What the daemon knows besides the pins, stored in the file's key-value metadata as JSON under
 * `ipfs-kit.<key>`: `backends` (name, type, state, health, latency, free bytes) and `policy`.
 */
export type IndexContext = Record<string, unknown>

/** A publish that failed in the worker: state.db unreadable, disk full, the worker died. */
export class IndexPublishError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INDEX', `publishing the pin index failed: ${message}`, options)
  }
}

/**
 * A publish allocates steadily (4,096-row batches); V8's default young generation for a thread is
 * up to 48 MiB, so each of the two threads held that much: 8 MiB took the peak of a 1M-pin daemon
 * during a publish from 266 to 248 MiB, for 5-8 % on the publish time.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 }

/**
 * Starts `src/pin-index/<name>` in a worker thread: the compiled .js, or the .ts source when this
 * module itself runs from source under tsx (tests, benchmarks).
 */
export function startWorker(name: string, workerData?: unknown): Worker {
  if (import.meta.url.endsWith('.ts')) {
    // tsx's hooks do not reach a worker's entry module on Node 20 (execArgv ['--import', 'tsx']
    // registers them too late for it), so the worker registers them itself, then imports the entry
    const entry = new URL(`./${name}.ts`, import.meta.url).href
    const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}) })`
    return new Worker(boot, { eval: true, workerData, resourceLimits: WORKER_LIMITS })
  }
  return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData, resourceLimits: WORKER_LIMITS })
}

/** Numbers the temp files of this process's publishes, which may run side by side. */
let publishSeq = 0

/**
 * A worker thread that writes the pin index, so that building a million-row parquet file never
 * blocks the caller's event loop. One publish at a time; it keeps the process alive only while
 * a publish is in flight. After the thread dies, every publish fails: start a new one.
 */
class PublishWorker {
  private readonly worker: Worker
  private pending: { resolve: (r: PublishResult) => void; reject: (e: Error) => void } | undefined
  private dead: Error | undefined

  constructor() {
    this.worker = startWorker('publish-worker')
    this.worker.unref()
    this.worker.on('message', (msg: PublishReply) => {
      const p = this.settle()
      if (msg.ok) p?.resolve({ rows: msg.rows, pins: msg.pins, ms: msg.ms, path: msg.path })
      else p?.reject(new IndexPublishError(msg.error))
    })
    this.worker.on('error', (err) => this.die(new IndexPublishError(err.message, { cause: err })))
    this.worker.on('exit', (code) => this.die(new IndexPublishError(`the worker exited (code ${code})`)))
  }

  get alive(): boolean {
    return this.dead == null
  }

  publish(dataDir: string, context: IndexContext): Promise<PublishResult> {
    if (this.dead != null) return Promise.reject(this.dead)
    if (this.pending != null) return Promise.reject(new IndexPublishError('a publish is already running'))
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.worker.ref()
      const req: PublishRequest = { dataDir, seq: ++publishSeq, context }
      this.worker.postMessage(req)
    })
  }

  close(): Promise<number> {
    return this.worker.terminate()
  }

  private settle() {
    const p = this.pending
    this.pending = undefined
    this.worker.unref()
    return p
  }

  private die(err: Error): void {
    this.dead ??= err
    this.settle()?.reject(err)
  }
}

/** Publishes `<data>/index/pins.parquet` once, in a short-lived worker thread. */
export async function publishPinIndex(dataDir: string, context: IndexContext = {}): Promise<PublishResult> {
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
  /** Failed publishes are reported here (and retried at the next change), never thrown. */
  onError?: (err: unknown) => void
  /** How long the worker threads stay after a publish, waiting for the next (default RETIRE_IDLE_MS). */
  retireAfterMs?: number
}

/**
 * A publisher's worker threads (a writer and its reader, each a V8 isolate of its own) are stopped
 * after this long without a publish: kept, they held 35-75 MiB of a 1M-pin daemon's memory between
 * publishes; a new pair starts in about 50 ms.
 */
const RETIRE_IDLE_MS = 30_000

/**
 * Keeps the pin index fresh. schedule() after every change: the first change of a burst starts a
 * timer of debounceMs, and one publish then covers the whole burst. At most one publish runs at a
 * time; a change while it runs (it may have read the database before) triggers one more after
 * it. So the index reflects a change within debounceMs plus at most two publish times.
 */
export class PinIndexPublisher {
  private readonly dataDir: string
  private readonly debounceMs: number
  private readonly opts: PublisherOptions
  private worker: PublishWorker | undefined
  private timer: NodeJS.Timeout | undefined
  private retireTimer: NodeJS.Timeout | undefined
  private inflight: Promise<void> | undefined
  private dirty = false
  private closed = false

  constructor(dataDir: string, opts: PublisherOptions = {}) {
    this.dataDir = dataDir
    this.debounceMs = opts.debounceMs ?? 250
    this.opts = opts
  }

  /** Whether the worker threads are running (from a publish until they retire). */
  get threadsRunning(): boolean {
    return this.worker != null
  }

  /** Notes a change; the index is republished shortly. */
  schedule(): void {
    if (this.closed) return
    this.dirty = true
    if (this.timer != null || this.inflight != null) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.start()
    }, this.debounceMs)
  }

  /** Publishes now, reflecting every change made before the call, and resolves when it is done. */
  async flush(): Promise<void> {
    if (this.closed) return
    // a publish already running may have read the database before the caller's change
    if (this.inflight != null) await this.inflight
    // ...but one started since (by another flush) has not
    await (this.inflight ?? this.start())
  }

  /** Waits for a publish in flight, then stops the worker; later calls do nothing. */
  async close(): Promise<void> {
    this.closed = true
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    clearTimeout(this.retireTimer)
    await this.inflight
    await this.worker?.close()
    this.worker = undefined
  }

  private start(): Promise<void> {
    if (this.inflight != null) return this.inflight
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
    clearTimeout(this.retireTimer)
    this.dirty = false
    if (this.worker == null || !this.worker.alive) {
      void this.worker?.close()
      this.worker = new PublishWorker()
    }
    const worker = this.worker
    this.inflight = Promise.resolve()
      .then(() => worker.publish(this.dataDir, this.opts.context?.() ?? {}))
      .then(
        (r) => this.opts.onPublished?.(r),
        (err: unknown) => this.opts.onError?.(err),
      )
      .finally(() => {
        this.inflight = undefined
        if (this.dirty) this.schedule()
        else this.retireLater()
      })
    return this.inflight
  }

  /** Stops the worker threads once no publish has started for RETIRE_IDLE_MS. */
  private retireLater(): void {
    clearTimeout(this.retireTimer)
    this.retireTimer = setTimeout(() => {
      if (this.inflight != null || this.timer != null) return
      void this.worker?.close()
      this.worker = undefined
    }, this.opts.retireAfterMs ?? RETIRE_IDLE_MS)
    this.retireTimer.unref()
  }
}
