// The pin index worker threads (started by publish.ts). Two threads share a publish, so that
// both cores work: a reader scans state.db into batches (read-pins.ts) while the writer encodes
// the previous ones as parquet (write-index.ts) into a temp file that is then renamed into place.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs'
import { join } from 'node:path'
import { parentPort, type Worker, workerData } from 'node:worker_threads'
import { fsyncDir, pidAlive } from '../fs-utils.ts'
import { openSqlite } from '../state/sqlite.ts'
import { startWorker } from './publish.ts'
import { batchBuffers, type PinBatch, readPinBatches } from './read-pins.ts'
import { PIN_INDEX_FILE, ROW_GROUP_ROWS } from './schema.ts'
import { PinIndexWriter } from './write-index.ts'

export interface PublishRequest {
  dataDir: string
  seq: number
  context: Record<string, unknown>
}

export type PublishReply =
  | { ok: true; rows: number; pins: number; path: string; ms: number }
  | { ok: false; error: string }

interface ReadRequest {
  id: number
  dataDir: string
  /** [batches posted and not yet written, 1 when the writer gave up] */
  credits: SharedArrayBuffer
}

type ReadReply =
  | { id: number; type: 'batch'; batch: PinBatch }
  | { id: number; type: 'end'; pins: number; rows: number }
  | { id: number; type: 'error'; error: string }

/** Batches the reader may run ahead of the writer: bounds memory when writing is the slower half. */
const MAX_AHEAD = 4
// The reader scans state.db once from end to end with read() calls, no mmap and a small page cache:
// every page of a mapped file counts in the daemon's RSS (a 2 GiB map took a 1M-pin daemon, with a
// 594 MB state.db, to 727 MiB resident; a 64 MiB one still added 64 MiB at each publish), and a
// page cache is no use to a single pass. The file's pages stay in the kernel's cache, not our RSS.
const CACHE_KIB = 2048

// ---- reader thread ------------------------------------------------------------------------

/** Blocks until the writer has room for one more batch; throws if it gave up. */
function takeCredit(credits: Int32Array): void {
  for (;;) {
    if (Atomics.load(credits, 1) !== 0) throw new Error('the writer stopped')
    const ahead = Atomics.load(credits, 0)
    if (ahead < MAX_AHEAD) break
    Atomics.wait(credits, 0, ahead, 1000)
  }
  Atomics.add(credits, 0, 1)
}

function serveReads(port: NonNullable<typeof parentPort>): void {
  port.on('message', (req: ReadRequest) => {
    const credits = new Int32Array(req.credits)
    const reply = (msg: ReadReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer)
    const statePath = join(req.dataDir, 'state.db')
    try {
      const db = openSqlite(statePath, { readonly: true, fileMustExist: true })
      try {
        db.pragma('busy_timeout = 15000')
        db.pragma(`cache_size = -${CACHE_KIB}`)
        const counts = readPinBatches(db, ROW_GROUP_ROWS, (batch) => {
          takeCredit(credits)
          reply({ id: req.id, type: 'batch', batch }, batchBuffers(batch))
        })
        reply({ id: req.id, type: 'end', ...counts })
      } finally {
        db.close()
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err)
      reply({ id: req.id, type: 'error', error: `reading ${statePath}: ${message}` })
    }
  })
}

// ---- writer thread ------------------------------------------------------------------------

/** The writer's handle on its reader thread, started once and kept for later publishes. */
class Reader {
  private readonly worker: Worker
  private nextId = 0
  private current:
    | {
        id: number
        credits: Int32Array
        onBatch: (b: PinBatch) => void
        settle: (err: Error | null, r?: { pins: number; rows: number }) => void
      }
    | undefined
  dead = false

  constructor() {
    this.worker = startWorker('publish-worker', { role: 'reader' })
    this.worker.on('message', (msg: ReadReply) => this.receive(msg))
    const die = (err: Error) => {
      this.dead = true
      this.current?.settle(err)
    }
    this.worker.on('error', die)
    this.worker.on('exit', (code) => die(new Error(`the reader thread exited (code ${code})`)))
  }

  /** Streams every batch of one snapshot to `onBatch`, in order; resolves with the totals. */
  read(dataDir: string, onBatch: (b: PinBatch) => void): Promise<{ pins: number; rows: number }> {
    return new Promise((resolve, reject) => {
      const id = ++this.nextId
      const shared = new SharedArrayBuffer(8)
      const credits = new Int32Array(shared)
      this.current = {
        id,
        credits,
        onBatch,
        settle: (err, r) => {
          if (this.current?.id !== id) return
          this.current = undefined
          // wake the reader if it waits for room, so that it sees the stop flag
          Atomics.store(credits, 1, 1)
          Atomics.notify(credits, 0)
          if (err != null) reject(err)
          else resolve(r!)
        },
      }
      const req: ReadRequest = { id, dataDir, credits: shared }
      this.worker.postMessage(req)
    })
  }

  private receive(msg: ReadReply): void {
    const cur = this.current
    if (cur == null || msg.id !== cur.id) return // the tail of a read that was given up
    if (msg.type === 'end') cur.settle(null, { pins: msg.pins, rows: msg.rows })
    else if (msg.type === 'error') cur.settle(new Error(msg.error))
    else {
      try {
        cur.onBatch(msg.batch)
      } catch (err) {
        cur.settle(err instanceof Error ? err : new Error(String(err)))
        return
      }
      Atomics.sub(cur.credits, 0, 1)
      Atomics.notify(cur.credits, 0)
    }
  }
}

let reader: Reader | undefined

/** Removes temp files left by publishers that died mid-write (their pid is gone). */
function removeStaleTemps(dir: string): void {
  // `pins.parquet.tmp-<pid>-<n>`; earlier versions put a dot in front
  const temp = /^\.?pins\.parquet\.tmp-(\d+)-\d+$/
  for (const name of readdirSync(dir)) {
    const pid = Number(temp.exec(name)?.[1] ?? 0)
    if (pid > 0 && !pidAlive(pid)) rmSync(join(dir, name), { force: true })
  }
}

/** Writes `<data>/index/pins.parquet` from state.db: temp file, fsync, rename, fsync the directory. */
async function publish(req: PublishRequest): Promise<{ rows: number; pins: number; path: string }> {
  const dir = join(req.dataDir, 'index')
  const path = join(dir, PIN_INDEX_FILE)
  // the pid and a sequence number keep concurrent publishers (a daemon, a CLI) off each other's file
  const tmp = join(dir, `${PIN_INDEX_FILE}.tmp-${process.pid}-${req.seq}`)
  // not recursive: a data directory that does not exist is an error, not something to create here
  if (!existsSync(dir)) mkdirSync(dir)
  removeStaleTemps(dir)
  let fd: number | undefined = openSync(tmp, 'w', 0o644)
  try {
    const out = new PinIndexWriter(fd, req.context)
    if (reader == null || reader.dead) reader = new Reader()
    const counts = await reader.read(req.dataDir, (batch) => out.write(batch))
    out.finish()
    fsyncSync(fd)
    closeSync(fd)
    fd = undefined
    renameSync(tmp, path)
    fsyncDir(dir)
    return { ...counts, path }
  } catch (err) {
    if (fd != null) closeSync(fd)
    rmSync(tmp, { force: true })
    throw err
  }
}

function serveWrites(port: NonNullable<typeof parentPort>): void {
  port.on('message', async (req: PublishRequest) => {
    const started = performance.now()
    let reply: PublishReply
    try {
      reply = { ok: true, ...(await publish(req)), ms: performance.now() - started }
    } catch (err) {
      reply = { ok: false, error: err instanceof Error ? err.message : String(err) }
    }
    port.postMessage(reply)
  })
}

if (parentPort != null) {
  if ((workerData as { role?: string } | null)?.role === 'reader') serveReads(parentPort)
  else serveWrites(parentPort)
}
