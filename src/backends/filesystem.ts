import { createReadStream, createWriteStream } from 'node:fs'
import { access, constants, open, opendir, rename, rm, stat, statfs, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { CarBlockIterator } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import * as z from 'zod'
import { blockKey, matchesCid } from '../blockstore/hashing.ts'
import { links, walkDag } from '../content/links.ts'
import { fsyncDirAsync, pidAlive } from '../fs-utils.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, SweptItem, VerifyResult } from './types.ts'

/** Config of a `filesystem` backend: a directory (e.g. a NAS mount) that holds one CAR per pin. */
export const FilesystemOptions = z
  .object({
    name: z.string(),
    type: z.literal('filesystem'),
    path: z.string().regex(/^\//, 'must be an absolute path'),
  })
  .strict()

/** This host, as it appears in temp file names (a NAS may be shared by several hosts). */
const HOST = hostname().replace(/[^A-Za-z0-9]/g, '_')
/** A temp file of another host is taken for dead once it is this old (its pid means nothing here). */
const FOREIGN_TEMP_MAX_AGE_MS = 24 * 3600 * 1000
/** `<cid>.car` */
const CAR_NAME = /^([A-Za-z0-9]+)\.car$/
/** `.<cid>.car.tmp-[<host>-]<pid>-<ms>` (older versions wrote no host) */
const TEMP_NAME = /^\.([A-Za-z0-9]+)\.car\.tmp-(?:([A-Za-z0-9_]+)-)?(\d+)-(\d+)$/

/**
 * A directory of CARv1 files, `<path>/<cid>.car`, one per pinned DAG. Writes go to a temp file that
 * is fsynced and renamed into place, so a CAR is either whole or absent. Every file-system call is
 * asynchronous (a hung NAS must not freeze the daemon), and the bytes and CARs held are a running
 * total kept from one scan at start-up, so a health probe costs the same for ten CARs or a million.
 */
export class FilesystemBackend implements Backend {
  readonly type = 'filesystem'
  readonly name: string
  private readonly path: string
  private readonly ctx: BackendContext
  /** Temp files this process is writing right now (never swept). */
  private readonly writing = new Set<string>()
  private totals: { bytes: number; cars: number } | undefined
  private scanning: Promise<void> | undefined

  constructor(opts: z.infer<typeof FilesystemOptions>, ctx: BackendContext) {
    this.name = opts.name
    this.path = opts.path
    this.ctx = ctx
  }

  async start(): Promise<void> {
    // The directory is the user's (a mount point): never create it, so a missing mount shows as unhealthy.
    this.ctx.log(`filesystem backend ${this.name} on ${this.path}`)
    // in the background: a slow or hung mount must not hold up the daemon's start
    this.scan()
  }

  /** Does not wait for the start-up scan: on a hung mount it may never end, and it is safe to cut short. */
  async stop(): Promise<void> {}

  /**
   * Counts the CARs and their bytes, and removes temp files of writers that are gone (a daemon killed
   * mid-copy), once; again later if the directory was unreadable.
   */
  private scan(): void {
    if (this.totals != null || this.scanning != null) return
    this.scanning = (async () => {
      const totals = { bytes: 0, cars: 0 }
      const swept = await this.walk((entry, size) => {
        if (entry.kind === 'car') {
          totals.bytes += size
          totals.cars++
        }
        return false
      })
      this.totals = totals
      if (swept.length > 0) await fsyncDirAsync(this.path)
    })()
      .catch((err: Error) => this.ctx.log(`cannot scan ${this.path}: ${err.message}`))
      .finally(() => {
        this.scanning = undefined
      })
  }

  async health(): Promise<HealthReport> {
    const started = performance.now()
    try {
      if (!(await stat(this.path)).isDirectory()) throw new Error(`${this.path} is not a directory`)
      await access(this.path, constants.R_OK | constants.W_OK)
      const fs = await statfs(this.path)
      const freeBytes = fs.bavail * fs.bsize
      this.scan()
      return {
        status: freeBytes < 64 * 1024 * 1024 ? 'degraded' : 'healthy',
        latencyMs: performance.now() - started,
        freeBytes,
        usedBytes: this.totals?.bytes,
      }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  private carPath(root: CID | string): string {
    return join(this.path, `${root.toString()}.car`)
  }

  async has(root: CID): Promise<boolean> {
    try {
      await access(this.carPath(root))
      return true
    } catch {
      return false
    }
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const final = this.carPath(root)
    const name = `.${root.toString()}.car.tmp-${HOST}-${process.pid}-${Date.now()}`
    const tmp = join(this.path, name)
    this.writing.add(name)
    try {
      await pipeline(car, createWriteStream(tmp, { flags: 'wx' }), { signal: opts.signal })
      const fh = await open(tmp, 'r')
      let size: number
      try {
        await fh.sync()
        size = (await fh.stat()).size
      } finally {
        await fh.close()
      }
      opts.signal?.throwIfAborted()
      const replaced = await this.sizeOf(final)
      await rename(tmp, final)
      await fsyncDirAsync(this.path)
      this.count(size - (replaced ?? 0), replaced == null ? 1 : 0)
    } catch (err) {
      await rm(tmp, { force: true })
      throw err
    } finally {
      this.writing.delete(name)
    }
  }

  async *get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    yield* createReadStream(this.carPath(root), { signal: opts.signal, highWaterMark: 1 << 20 })
  }

  async verify(root: CID): Promise<VerifyResult> {
    // a stream reads in chunks off the event loop, so a 20 GB CAR never blocks it for long
    return verifyCar(createReadStream(this.carPath(root), { highWaterMark: 256 << 10 }), root)
  }

  async unpin(root: CID): Promise<void> {
    if (await this.removeFile(`${root.toString()}.car`)) await fsyncDirAsync(this.path)
  }

  async stat(): Promise<BackendStat> {
    const fs = await statfs(this.path)
    return {
      usedBytes: this.totals?.bytes ?? 0,
      freeBytes: fs.bavail * fs.bsize,
      pins: this.totals?.cars ?? 0,
    }
  }

  async sweep(wanted: (root: string) => boolean, opts: { signal?: AbortSignal } = {}): Promise<SweptItem[]> {
    const swept = await this.walk((entry) => entry.kind === 'car' && !wanted(entry.root), opts.signal)
    if (swept.length > 0) await fsyncDirAsync(this.path)
    return swept
  }

  /**
   * Walks the directory (streamed, so a million CARs are never listed at once) and removes each CAR
   * `remove` picks and each temp file whose writer is gone; `remove` sees every CAR and its size.
   */
  private async walk(
    remove: (entry: { kind: 'car'; root: string }, size: number) => boolean,
    signal?: AbortSignal,
  ): Promise<SweptItem[]> {
    const swept: SweptItem[] = []
    for await (const dirent of await opendir(this.path, { bufferSize: 256 })) {
      signal?.throwIfAborted()
      if (!dirent.isFile()) continue
      const car = CAR_NAME.exec(dirent.name)
      const temp = car == null ? TEMP_NAME.exec(dirent.name) : null
      if (car == null && temp == null) continue
      const size = await this.sizeOf(join(this.path, dirent.name))
      if (size == null) continue
      let kind: SweptItem['kind']
      if (car != null) {
        if (!remove({ kind: 'car', root: car[1]! }, size)) continue
        kind = 'orphan'
      } else {
        if (!(await this.writerGone(dirent.name, temp!))) continue
        kind = 'temp'
      }
      if (!(await this.removeFile(dirent.name))) continue
      const item: SweptItem = { name: dirent.name, root: (car ?? temp)![1], kind, bytes: size }
      this.ctx.log(
        `removed ${kind === 'temp' ? 'a temp file of a dead writer' : 'an orphan CAR'}: ${item.name} (${size} bytes)`,
      )
      swept.push(item)
    }
    return swept
  }

  private async writerGone(name: string, m: RegExpExecArray): Promise<boolean> {
    if (this.writing.has(name)) return false
    const host = m[2] ?? HOST
    const pid = Number(m[3])
    if (host === HOST) return pid === process.pid || !pidAlive(pid)
    const mtime = (await stat(join(this.path, name)).catch(() => undefined))?.mtimeMs
    return mtime != null && Date.now() - mtime > FOREIGN_TEMP_MAX_AGE_MS
  }

  /** Unlinks a CAR or temp file, keeping the running totals; false if it was already gone. */
  private async removeFile(name: string): Promise<boolean> {
    const path = join(this.path, name)
    const size = await this.sizeOf(path)
    try {
      await unlink(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw err
    }
    if (size != null && CAR_NAME.test(name)) this.count(-size, -1)
    return true
  }

  private async sizeOf(path: string): Promise<number | undefined> {
    try {
      return (await stat(path)).size
    } catch {
      return undefined
    }
  }

  private count(bytes: number, cars: number): void {
    if (this.totals == null) return // the scan in flight (or the next one) counts it
    this.totals.bytes = Math.max(0, this.totals.bytes + bytes)
    this.totals.cars = Math.max(0, this.totals.cars + cars)
  }
}

/**
 * Reads a CAR stream and proves it holds the whole DAG under `root`: every block hashes to its CID
 * and every link from the root resolves to a block in the CAR.
 */
export async function verifyCar(source: AsyncIterable<Uint8Array>, root: CID): Promise<VerifyResult> {
  let blocks = 0
  let bytes = 0
  const linksOf = new Map<string, CID[]>()
  try {
    const reader = await CarBlockIterator.fromIterable(source)
    for await (const block of reader) {
      if (!matchesCid(block.cid, block.bytes)) {
        return { ok: false, blocks, bytes, error: `block ${block.cid} does not hash to its CID` }
      }
      linksOf.set(blockKey(block.cid), links(block.cid, block.bytes))
      blocks++
      bytes += block.bytes.length
    }
  } catch (err) {
    return { ok: false, blocks, bytes, error: `unreadable CAR: ${(err as Error).message}` }
  }
  try {
    const childrenOf = (cid: CID): CID[] => {
      const children = linksOf.get(blockKey(cid))
      if (children == null) throw new Error(`block ${cid} is missing`)
      return children
    }
    for (const _ of walkDag(root, childrenOf)) {
      // walking is the check
    }
  } catch (err) {
    return { ok: false, blocks, bytes, error: (err as Error).message }
  }
  return { ok: true, blocks, bytes }
}
