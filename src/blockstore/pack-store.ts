import { closeSync, existsSync, fdatasync, mkdirSync, openSync, readSync, unlinkSync, writev } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { AbortOptions } from 'abort-error'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import { CID } from 'multiformats/cid'
import {
  BlockCorruptError,
  BlockNotFoundError,
  InvalidInputError,
  NativeAddonError,
  RepoError,
} from '../errors.ts'
import { fsyncDir } from '../fs-utils.ts'
import { assertSupportedHash, blockKey, IDENTITY, MAX_BLOCK_SIZE, matchesCid } from './hashing.ts'
import { type BlockLocation, type IndexEntry, PackIndex } from './pack-index.ts'
import type { SpanPool } from './span-pool.ts'

/** A pack is rolled over to a new file past this size. */
const PACK_ROLL_BYTES = 1 << 30
/** A writer stops accepting blocks while this many bytes are still on their way to the kernel. */
const MAX_OUTSTANDING_BYTES = 64 << 20
/**
 * readMany() reads neighbouring blocks together up to this many bytes (a pooled read span's size)...
 * 4 MiB and a little: a batch of 16 chunks of 256 KiB with their records' headers is one read, not 15 + 1.
 */
export const COALESCE_BYTES = (4 << 20) + (64 << 10)
/** ...when no more than this lies between them (a record's header and CID are ~50 bytes). */
const COALESCE_GAP = 4096
/**
 * readMany() reads a block, or a run of neighbouring blocks, of at most this many bytes at once,
 * with pread(2) on the calling thread: from the page cache that takes microseconds, where a round
 * trip through libuv's thread pool costs two thread wake-ups, far more on a VM (listing a 30,000-entry
 * directory reads each entry's block; spread over its packs they are 30,000 single reads). The
 * index lookup of the same block is a synchronous read of SQLite's pages already.
 */
const SYNC_READ_BYTES = 16 << 10
/** Record header: magic "IKPB", u16 CID length, u32 data length; then the CID, then the block. */
const MAGIC = 0x424b5049
const HEADER_BYTES = 10

const writevAsync = promisify(writev)
const fdatasyncAsync = promisify(fdatasync)

interface ActivePack {
  id: number
  fd: number
  size: number
  /** Bytes written since the last background flush was started. */
  unflushed: number
  flushing: boolean
}

/**
 * Start writing dirty pages back while the add goes on, every this many bytes: the final fdatasync
 * then finds little left to do (256 MiB add: the final flush was 113-122 ms of pure waiting).
 */
const BACKGROUND_FLUSH_BYTES = 32 << 20

/**
 * The local blockstore: blocks are appended to pack files (one active pack per process, so many
 * processes can write at once), located through a SQLite index, and verified against their CID on
 * every read. A block becomes visible only when its bytes are fsynced and its index row committed,
 * so a crash at any moment leaves no reachable partial block.
 */
export class PackStore implements Blockstore {
  readonly root: string
  readonly index: PackIndex
  private readonly packDir: string
  private active: ActivePack | undefined
  /** Write descriptors of the packs this process created. */
  private readonly writeFds = new Map<number, number>()
  private readonly readFds = new Map<number, number>()
  /** Handles for async reads; closing one waits for the reads in flight on it. */
  private readonly readHandles = new Map<number, Promise<FileHandle>>()
  private batch: { writer: BlockWriter; done: Promise<void> } | undefined

  private constructor(root: string) {
    this.root = root
    this.packDir = join(root, 'packs')
    this.index = new PackIndex(join(root, 'index.db'))
  }

  /** Opens (creating if needed) the blockstore in `root`. */
  static open(root: string): PackStore {
    try {
      mkdirSync(join(root, 'packs'), { recursive: true })
      return new PackStore(root)
    } catch (err) {
      if (err instanceof NativeAddonError) throw err
      throw new RepoError(`cannot open the blockstore at ${root}: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Starts a write session: blocks put through it become durable and visible on commit(). With
   * `repair`, a block already stored is re-hashed, and a copy that no longer matches its CID is
   * replaced by the one put (a replica copied back to heal the local store).
   */
  writer(opts: { repair?: boolean } = {}): BlockWriter {
    return new BlockWriter(this, this.index.registerWriter(), opts.repair === true)
  }

  packPath(id: number): string {
    return join(this.packDir, `${id}.pack`)
  }

  /** Appends one record to this process's active pack; resolves when the kernel has the bytes. */
  async append(cid: CID, bytes: Uint8Array): Promise<IndexEntry> {
    const pack = this.activePack(bytes.length)
    const header = Buffer.allocUnsafe(HEADER_BYTES)
    header.writeUInt32LE(MAGIC, 0)
    header.writeUInt16LE(cid.bytes.length, 4)
    header.writeUInt32LE(bytes.length, 6)
    const offset = pack.size
    const recordBytes = HEADER_BYTES + cid.bytes.length + bytes.length
    pack.size += recordBytes
    const { bytesWritten } = await writevAsync(pack.fd, [header, cid.bytes, bytes], offset)
    if (bytesWritten !== recordBytes) throw new RepoError(`short write to pack ${pack.id}: disk full?`)
    pack.unflushed += recordBytes
    if (pack.unflushed >= BACKGROUND_FLUSH_BYTES && !pack.flushing) {
      // an optimisation only: durability still comes from the fdatasync in BlockWriter.commit()
      pack.unflushed = 0
      pack.flushing = true
      fdatasyncAsync(pack.fd)
        .catch(() => {})
        .finally(() => {
          pack.flushing = false
        })
    }
    return {
      mh: cid.multihash.bytes,
      cid: cid.bytes,
      pack: pack.id,
      offset: offset + HEADER_BYTES + cid.bytes.length,
      length: bytes.length,
    }
  }

  /** fdatasync the given packs, so that index rows pointing into them are safe to commit. */
  async sync(packs: Iterable<number>): Promise<void> {
    await Promise.all(
      [...packs].map((id) => {
        const fd = this.writeFds.get(id)
        return fd == null ? undefined : fdatasyncAsync(fd)
      }),
    )
  }

  /** Synchronous, so that concurrent appends in one process share one pack. */
  private activePack(incoming: number): ActivePack {
    if (this.active != null && this.active.size + incoming <= PACK_ROLL_BYTES) return this.active
    const id = this.index.newPack()
    const fd = openSync(this.packPath(id), 'wx')
    fsyncDir(this.packDir)
    this.active = { id, fd, size: 0, unflushed: 0, flushing: false }
    this.writeFds.set(id, fd)
    return this.active
  }

  /** Where the block with this multihash lives, if stored. */
  locate(cid: CID): BlockLocation | undefined {
    return this.index.locate(cid.multihash.bytes)
  }

  /**
   * Re-hash every block read (Kubo's `Datastore.HashOnRead`). Off by default, as in Kubo: every
   * block was hashed when it was written, and `repo verify` and replica verification always
   * re-hash; on, a block whose bytes no longer match is never served (SHA-256 is about half the
   * cost of `cat`). Set from the `hash_on_read` config key or a command's `--verify` flag.
   */
  hashOnRead = false

  /**
   * Reads one block; throws BlockNotFoundError, or BlockCorruptError when `verify` (default:
   * `hashOnRead`) finds that its bytes no longer hash to its CID.
   */
  read(cid: CID, verify = this.hashOnRead): Uint8Array {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    const loc = this.locate(cid)
    if (loc == null) throw new BlockNotFoundError(cid.toString())
    return this.readLocated(cid, loc, verify)
  }

  /** read() of a block already located, on the calling thread. */
  private readLocated(cid: CID, loc: BlockLocation, verify: boolean, again = true): Uint8Array {
    let bytes: Uint8Array
    try {
      bytes = this.readAt(loc)
    } catch (err) {
      // gc may have compacted the pack away between the lookup and the read: look again once
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !again) throw err
      const moved = this.locate(cid)
      if (moved == null) throw new BlockNotFoundError(cid.toString())
      return this.readLocated(cid, moved, verify, false)
    }
    if (bytes.length !== loc.length || (verify && !matchesCid(cid, bytes)))
      throw new BlockCorruptError(cid.toString(), `pack ${loc.pack} offset ${loc.offset}`)
    return bytes
  }

  /**
   * read(), with the bytes read on libuv's thread pool: a caller that reads ahead (cat, get, CAR
   * export) overlaps disk reads with writing out the blocks before them.
   */
  async readAsync(cid: CID, verify = this.hashOnRead): Promise<Uint8Array> {
    if (cid.multihash.code === IDENTITY) return cid.multihash.digest
    let loc = this.locate(cid)
    if (loc == null) throw new BlockNotFoundError(cid.toString())
    if (loc.length <= SYNC_READ_BYTES) return this.readLocated(cid, loc, verify)
    let bytes: Uint8Array
    try {
      bytes = await this.readRange(loc)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      loc = this.locate(cid)
      if (loc == null) throw new BlockNotFoundError(cid.toString())
      bytes = await this.readRange(loc)
    }
    if (bytes.length !== loc.length || (verify && !matchesCid(cid, bytes)))
      throw new BlockCorruptError(cid.toString(), `pack ${loc.pack} offset ${loc.offset}`)
    return bytes
  }

  /**
   * Reads several blocks (in order) with as few reads as possible: blocks stored next to each other
   * in one pack (as an add writes a file's leaves) come in one read of up to COALESCE_BYTES, which
   * also means one buffer to allocate and collect instead of one per block. A block that is
   * missing or corrupt fails the whole call, naming that block.
   */
  async readMany(cids: readonly CID[], verify = this.hashOnRead, spans?: SpanPool): Promise<Uint8Array[]> {
    const locs = this.index.locateMany(
      cids.map((cid) => (cid.multihash.code === IDENTITY ? undefined : cid.multihash.bytes)),
    )
    const reads: Promise<void>[] = []
    const out: Uint8Array[] = new Array(cids.length)
    for (let i = 0; i < cids.length; ) {
      const first = locs[i]
      // extend the run while the next block follows closely in the same pack
      let j = i + 1
      let end = first == null ? 0 : first.offset + first.length
      while (first != null && j < cids.length) {
        const next = locs[j]
        if (next == null || next.pack !== first.pack || next.offset < end || next.offset - end > COALESCE_GAP)
          break
        if (next.offset + next.length - first.offset > COALESCE_BYTES) break
        end = next.offset + next.length
        j++
      }
      reads.push(
        j === i + 1 || first == null
          ? this.readOne(cids, locs, out, i, verify)
          : this.readRun(cids, locs, out, i, j, verify, spans),
      )
      i = j
    }
    // runs and single blocks are read concurrently (the thread pool has several threads)
    await Promise.all(reads)
    return out
  }

  private async readOne(
    cids: readonly CID[],
    locs: readonly (BlockLocation | undefined)[],
    out: Uint8Array[],
    i: number,
    verify: boolean,
  ): Promise<void> {
    const loc = locs[i]
    out[i] =
      loc != null && loc.length <= SYNC_READ_BYTES
        ? this.readLocated(cids[i]!, loc, verify)
        : await this.readAsync(cids[i]!, verify)
  }

  private async readRun(
    cids: readonly CID[],
    locs: readonly (BlockLocation | undefined)[],
    out: Uint8Array[],
    from: number,
    to: number,
    verify: boolean,
    spans?: SpanPool,
  ): Promise<void> {
    const first = locs[from]!
    const last = locs[to - 1]!
    const length = last.offset + last.length - first.offset
    const range = { pack: first.pack, offset: first.offset, length }
    const small = length <= SYNC_READ_BYTES
    // from a pool, the span holds one reference per block view cut from it (see SpanPool)
    const into = small ? undefined : spans?.take(length, to - from)
    let span: Uint8Array
    try {
      span = small ? this.readAt(range) : await this.readRange(range, into)
    } catch (err) {
      if (into != null) spans!.discard(into)
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      // gc compacted the pack meanwhile: read these one by one from where they are now
      for (let i = from; i < to; i++) out[i] = await this.readAsync(cids[i]!, verify)
      return
    }
    for (let i = from; i < to; i++) {
      const loc = locs[i]!
      const bytes = span.subarray(loc.offset - first.offset, loc.offset - first.offset + loc.length)
      if (bytes.length !== loc.length || (verify && !matchesCid(cids[i]!, bytes))) {
        if (into != null) spans!.discard(into)
        throw new BlockCorruptError(cids[i]!.toString(), `pack ${loc.pack} offset ${loc.offset}`)
      }
      out[i] = bytes
    }
  }

  /** Raw bytes at a location, unverified, read on the thread pool; for compaction. */
  readAtAsync(loc: BlockLocation): Promise<Uint8Array> {
    return this.readRange(loc)
  }

  /** The bytes at `loc`, read into `into` (at least loc.length bytes) when given. */
  private async readRange(loc: BlockLocation, into?: Buffer): Promise<Uint8Array> {
    let handle = this.readHandles.get(loc.pack)
    if (handle == null) {
      handle = open(this.packPath(loc.pack), 'r')
      this.readHandles.set(loc.pack, handle)
      handle.catch(() => this.readHandles.delete(loc.pack))
    }
    const buf = into ?? Buffer.allocUnsafe(loc.length)
    const { bytesRead } = await (await handle).read(buf, 0, loc.length, loc.offset)
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead)
  }

  /** Raw bytes at a location, unverified; for verification and compaction. */
  readAt(loc: BlockLocation): Uint8Array {
    let fd = this.readFds.get(loc.pack)
    if (fd == null) {
      fd = openSync(this.packPath(loc.pack), 'r')
      this.readFds.set(loc.pack, fd)
    }
    const buf = Buffer.allocUnsafe(loc.length)
    const n = readSync(fd, buf, 0, loc.length, loc.offset)
    if (n !== loc.length) return buf.subarray(0, n)
    return buf
  }

  has(cid: CID): boolean {
    return cid.multihash.code === IDENTITY || this.locate(cid) != null
  }

  async *get(cid: CID, _options?: AbortOptions): AsyncGenerator<Uint8Array> {
    yield this.read(cid)
  }

  /** Single puts (e.g. blocks arriving over bitswap) are group-committed: one fsync per batch. */
  async put(cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
    const bytes = await concat(value)
    if (this.batch == null) {
      const writer = this.writer()
      const done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.batch = undefined
        try {
          await writer.commit()
        } finally {
          writer.close()
        }
      })
      this.batch = { writer, done }
    }
    const { writer, done } = this.batch
    await writer.put(cid, bytes)
    await done
    return cid
  }

  async *putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>): AsyncGenerator<CID> {
    const writer = this.writer()
    const cids: CID[] = []
    try {
      for await (const { cid, bytes } of source) {
        await writer.put(cid, await concat(bytes))
        cids.push(cid)
      }
      await writer.commit()
    } finally {
      writer.close()
    }
    yield* cids
  }

  async *getMany(source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<Pair> {
    for await (const cid of source) yield { cid, bytes: this.get(cid) }
  }

  /** Removes a block from the index; its bytes are reclaimed when gc compacts the pack. */
  delete(cid: CID): void {
    this.index.delete(cid.multihash.bytes)
  }

  async *deleteMany(source: Iterable<CID> | AsyncIterable<CID>): AsyncGenerator<CID> {
    for await (const cid of source) {
      this.delete(cid)
      yield cid
    }
  }

  async *getAll(): AsyncGenerator<Pair> {
    for (const e of this.index.entries()) {
      const cid = CID.decode(e.cid)
      yield { cid, bytes: this.get(cid) }
    }
  }

  /** Deletes a pack file no index row points into any more. */
  removePack(id: number): void {
    const fd = this.readFds.get(id)
    if (fd != null) closeSync(fd)
    this.readFds.delete(id)
    this.closeHandle(id)
    const path = this.packPath(id)
    if (existsSync(path)) unlinkSync(path)
    this.index.dropPack(id)
  }

  /** True when `id` is the pack this process is appending to. */
  isActive(id: number): boolean {
    return this.active?.id === id
  }

  private closeHandle(id: number): Promise<void> | undefined {
    const handle = this.readHandles.get(id)
    this.readHandles.delete(id)
    return handle?.then(
      (h) => h.close(),
      () => {},
    )
  }

  async close(): Promise<void> {
    for (const fd of this.readFds.values()) closeSync(fd)
    this.readFds.clear()
    await Promise.all([...this.readHandles.keys()].map((id) => this.closeHandle(id)))
    for (const fd of this.writeFds.values()) closeSync(fd)
    this.writeFds.clear()
    this.active = undefined
    this.index.close()
  }
}

/**
 * One add's worth of blocks. put() only appends (fast, not yet durable); commit() fsyncs and
 * records them, after which they are durable and visible to every process. close() ends the
 * session so gc may run; an uncommitted session's bytes are garbage that gc reclaims.
 */
export class BlockWriter {
  private readonly store: PackStore
  private readonly id: number
  private entries: (IndexEntry & { replace?: boolean })[] = []
  private readonly seen = new Set<string>()
  private readonly inflight = new Set<Promise<void>>()
  private readonly touched = new Set<number>()
  private outstanding = 0
  private failure: unknown
  private closed = false
  /** Blocks newly written (not already stored) and their bytes, for reporting. */
  written = { blocks: 0, bytes: 0 }

  private readonly repair: boolean

  constructor(store: PackStore, id: number, repair = false) {
    this.store = store
    this.id = id
    this.repair = repair
  }

  /** Appends a block unless it is already stored; resolves quickly, applying backpressure. */
  async put(cid: CID, value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> {
    if (this.failure != null) throw this.failure
    assertSupportedHash(cid)
    if (cid.multihash.code === IDENTITY) return cid
    const key = blockKey(cid)
    if (this.seen.has(key)) return cid
    const stored = this.store.locate(cid)
    const replace = stored != null && this.repair && !this.storedIntact(cid)
    if (stored != null && !replace) return cid
    const bytes = await concat(value)
    if (bytes.length > MAX_BLOCK_SIZE) {
      throw new InvalidInputError(
        `block ${cid} is ${bytes.length} bytes, more than the largest block stored (${MAX_BLOCK_SIZE})`,
      )
    }
    this.seen.add(key)
    this.outstanding += bytes.length
    const write = this.store.append(cid, bytes).then(
      (entry) => {
        this.entries.push(replace ? { ...entry, replace } : entry)
        this.touched.add(entry.pack)
        this.written.blocks++
        this.written.bytes += entry.length
      },
      (err: unknown) => {
        this.failure ??= err
      },
    )
    const tracked = write.finally(() => {
      this.outstanding -= bytes.length
      this.inflight.delete(tracked)
    })
    this.inflight.add(tracked)
    while (this.outstanding > MAX_OUTSTANDING_BYTES && this.inflight.size > 0)
      await Promise.race(this.inflight)
    return cid
  }

  private storedIntact(cid: CID): boolean {
    try {
      this.store.read(cid, true)
      return true
    } catch (err) {
      if (err instanceof BlockCorruptError) return false
      throw err
    }
  }

  /** True if this session has written the block or the store already had it. */
  has(cid: CID): boolean {
    return this.seen.has(blockKey(cid)) || this.store.has(cid)
  }

  /** Makes every block put so far durable and visible. */
  async commit(): Promise<void> {
    await Promise.all(this.inflight)
    if (this.failure != null) throw this.failure
    await this.store.sync(this.touched)
    this.store.index.record(this.entries)
    this.entries = []
    this.touched.clear()
  }

  /** Ends the session (idempotent). Uncommitted blocks stay invisible. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.store.index.unregisterWriter(this.id)
  }
}

async function concat(
  value: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value
  const parts: Uint8Array[] = []
  for await (const part of value) parts.push(part)
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
}

/** One stored block that failed verification. */
export interface CorruptBlock {
  cid: string
  pack: number
  offset: number
  reason: string
}

/** Re-reads every stored block and checks it against its CID (`ipfs-kit repo verify`). */
export function* verifyAll(store: PackStore): Generator<{ ok: true } | ({ ok: false } & CorruptBlock)> {
  for (const e of store.index.entries()) {
    const cid = CID.decode(e.cid)
    let reason: string | undefined
    try {
      const bytes = store.readAt(e)
      if (bytes.length !== e.length) reason = `truncated: ${bytes.length} of ${e.length} bytes`
      else if (!matchesCid(cid, bytes)) reason = 'bytes do not hash to the CID'
    } catch (err) {
      reason = (err as Error).message
    }
    yield reason == null
      ? { ok: true }
      : { ok: false, cid: cid.toString(), pack: e.pack, offset: e.offset, reason }
  }
}
