import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.ts'
import type { Repo } from '../repo.ts'
import { cp } from './cp.ts'
import { DagSession, sealPb } from './dag.ts'
import { ls } from './ls.ts'
import { mkdir } from './mkdir.ts'
import { mv } from './mv.ts'
import { parseVfsPath } from './path.ts'
import { read } from './read.ts'
import { rm } from './rm.ts'
import { DEFAULT_LOCK_TIMEOUT_MS, RootStore } from './root-store.ts'
import { stat } from './stat.ts'
import { emptyDir } from './tree.ts'
import type {
  CpOptions,
  MkdirOptions,
  MutationContext,
  MutationOutcome,
  ReadOptions,
  RmOptions,
  VfsEntry,
  VfsStat,
  WriteOptions,
} from './types.ts'
import { type WriteResult, write } from './write.ts'

export { VfsExistsError, VfsNotFoundError, VfsTypeError } from './errors.ts'
export { parseVfsPath, type VfsPath } from './path.ts'
export { readVfsRoot } from './root-store.ts'
export type { CpOptions, MkdirOptions, ReadOptions, RmOptions, VfsEntry, VfsStat, WriteOptions, WriteResult }

export interface VfsOptions {
  /** How long a mutation waits for another process's mutation (default 120 s), then ERR_BUSY. */
  lockTimeoutMs?: number
}

/**
 * A mutable file tree over the blockstore with the semantics of Kubo's `ipfs files` (MFS): every
 * directory is a dag-pb UnixFS node and files are written as `files write` writes them, so the
 * root CID equals Kubo's after the same operations. Every mutation is atomic and durable: its
 * blocks are committed, then the new root is recorded (`<data>/vfs/vfs.db`); a crash leaves the
 * previous root. Mutations are serialised across processes sharing the data directory; reads
 * never wait. Paths are absolute and can never leave the root (see parseVfsPath).
 */
export class Vfs {
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  private constructor(
    private readonly repo: Repo,
    private readonly roots: RootStore,
    private readonly opts: VfsOptions,
  ) {}

  /** Opens the VFS of a repo, creating an empty root (Kubo's empty MFS root) on first use. */
  static async open(repo: Repo, opts: VfsOptions = {}): Promise<Vfs> {
    const vfs = new Vfs(repo, new RootStore(repo.dir), opts)
    if (vfs.roots.current() == null) {
      await vfs.mutate(async (ctx) => ({ root: await ctx.session.node(ctx.root), result: undefined }))
    }
    return vfs
  }

  /** The current root CID (`vfs stat /`), as last committed by any process. */
  root(): CID {
    return this.roots.current() ?? emptyRootCid()
  }

  async ls(path = '/'): Promise<VfsEntry[]> {
    return await ls(this.reader(), this.root(), parseVfsPath(path))
  }

  async stat(path = '/'): Promise<VfsStat> {
    return await stat(this.reader(), this.root(), parseVfsPath(path))
  }

  /** Streams a file's bytes, optionally from `offset` for `length` bytes. */
  async *read(path: string, opts: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    yield* read(this.reader(), this.root(), parseVfsPath(path), opts)
  }

  /** Writes bytes into a file (see WriteOptions); streams, so any size fits in bounded memory. */
  async write(
    path: string,
    source: AsyncIterable<Uint8Array> | Uint8Array,
    opts: WriteOptions = {},
  ): Promise<WriteResult> {
    const p = parseVfsPath(path)
    checkCidVersion(opts.cidVersion)
    return await this.mutate((ctx) => write(ctx, p, source, opts))
  }

  async mkdir(path: string, opts: MkdirOptions = {}): Promise<{ path: string }> {
    const p = parseVfsPath(path)
    checkCidVersion(opts.cidVersion)
    return await this.mutate((ctx) => mkdir(ctx, p, opts))
  }

  async rm(path: string, opts: RmOptions = {}): Promise<{ path: string; removed: boolean }> {
    const p = parseVfsPath(path)
    return await this.mutate((ctx) => rm(ctx, p, opts))
  }

  async mv(from: string, to: string): Promise<{ from: string; to: string }> {
    const src = parseVfsPath(from, 'source path')
    const dst = parseVfsPath(to, 'destination path')
    return await this.mutate((ctx) => mv(ctx, src, dst))
  }

  /** Links `/ipfs/<cid>[/path]` or another VFS path at `to`; no data is copied. */
  async cp(from: string, to: string, opts: CpOptions = {}): Promise<{ from: string; to: string; cid: CID }> {
    const dst = parseVfsPath(to, 'destination path')
    checkCidVersion(opts.cidVersion)
    return await this.mutate((ctx) => cp(ctx, from, dst, opts))
  }

  /** Every change is already flushed and durable; returns the CID of `path` (Kubo's `files flush`). */
  async flush(path = '/'): Promise<CID> {
    return (await this.stat(path)).cid
  }

  /** Waits for mutations in flight, then releases the database. The repo stays open. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue.catch(() => {})
    this.roots.close()
  }

  private reader(): DagSession {
    return new DagSession(this.repo.blocks)
  }

  /**
   * Runs one mutation: in this process one at a time, across processes under the VFS lock. The
   * blocks are committed before the new root is recorded; gc cannot run while the writer is open.
   */
  private mutate<T>(fn: (ctx: MutationContext) => Promise<MutationOutcome<T>>): Promise<T> {
    const run = async (): Promise<T> => {
      if (this.closed) throw new Error('the VFS is closed')
      await this.roots.lock(this.opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS)
      const writer = this.repo.blocks.writer()
      try {
        const session = new DagSession(this.repo.blocks, writer)
        let root = this.roots.current()
        if (root == null) root = (await session.putPb(emptyDir(0))).cid
        const outcome = await fn({ session, root })
        await writer.commit()
        this.roots.commit(outcome.root.cid)
        return outcome.result
      } catch (err) {
        this.roots.rollback()
        throw err
      } finally {
        writer.close()
      }
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return next
  }
}

function emptyRootCid(): CID {
  return sealPb(emptyDir(0)).cid
}

function checkCidVersion(v: number | undefined): void {
  if (v != null && v !== 0 && v !== 1) throw new InvalidInputError(`invalid CID version ${v}: use 0 or 1`)
}
