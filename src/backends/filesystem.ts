import { once } from 'node:events'
import {
  accessSync,
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { CarBlockIterator } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import { z } from 'zod'
import { blockKey, matchesCid } from '../blockstore/hashing.ts'
import { links, walkDag } from '../content/links.ts'
import { fsyncDir } from '../fs-utils.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, VerifyResult } from './types.ts'

/** Config of a `filesystem` backend: a directory (e.g. a NAS mount) that holds one CAR per pin. */
export const FilesystemOptions = z.object({
  name: z.string(),
  type: z.literal('filesystem'),
  path: z.string().refine(isAbsolute, 'must be an absolute path'),
})

/**
 * A directory of CARv1 files, `<path>/<cid>.car`, one per pinned DAG. Writes go to a temp file that
 * is fsynced and renamed into place, so a CAR is either whole or absent.
 */
export class FilesystemBackend implements Backend {
  readonly type = 'filesystem'
  readonly name: string
  private readonly path: string
  private readonly ctx: BackendContext

  constructor(opts: z.infer<typeof FilesystemOptions>, ctx: BackendContext) {
    this.name = opts.name
    this.path = opts.path
    this.ctx = ctx
  }

  async start(): Promise<void> {
    // The directory is the user's (a mount point): never create it, so a missing mount shows as unhealthy.
    this.ctx.log(`filesystem backend ${this.name} on ${this.path}`)
  }

  async stop(): Promise<void> {}

  async health(): Promise<HealthReport> {
    const started = performance.now()
    try {
      if (!statSync(this.path).isDirectory()) throw new Error(`${this.path} is not a directory`)
      accessSync(this.path, constants.R_OK | constants.W_OK)
      const fs = statfsSync(this.path)
      const freeBytes = fs.bavail * fs.bsize
      return {
        status: freeBytes < 64 * 1024 * 1024 ? 'degraded' : 'healthy',
        latencyMs: performance.now() - started,
        freeBytes,
        usedBytes: this.usedBytes(),
      }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  private carPath(root: CID): string {
    return join(this.path, `${root.toString()}.car`)
  }

  async has(root: CID): Promise<boolean> {
    return existsSync(this.carPath(root))
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>): Promise<void> {
    const final = this.carPath(root)
    const tmp = join(this.path, `.${root.toString()}.car.tmp-${process.pid}-${Date.now()}`)
    const out = createWriteStream(tmp, { flags: 'wx' })
    try {
      for await (const chunk of car) {
        if (!out.write(chunk)) await once(out, 'drain')
      }
      out.end()
      await once(out, 'finish')
      const fd = openSync(tmp, 'r')
      try {
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, final)
      fsyncDir(this.path)
    } catch (err) {
      out.destroy()
      rmSync(tmp, { force: true })
      throw err
    }
  }

  async *get(root: CID): AsyncIterable<Uint8Array> {
    yield* createReadStream(this.carPath(root))
  }

  async verify(root: CID): Promise<VerifyResult> {
    return verifyCar(createReadStream(this.carPath(root)), root)
  }

  async unpin(root: CID): Promise<void> {
    try {
      unlinkSync(this.carPath(root))
      fsyncDir(this.path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  async stat(): Promise<BackendStat> {
    const fs = statfsSync(this.path)
    return { usedBytes: this.usedBytes(), freeBytes: fs.bavail * fs.bsize, pins: this.cars().length }
  }

  private cars(): string[] {
    return readdirSync(this.path).filter((f) => f.endsWith('.car') && !f.startsWith('.'))
  }

  private usedBytes(): number {
    return this.cars().reduce((n, f) => n + statSync(join(this.path, f)).size, 0)
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
