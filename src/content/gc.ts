import { stat } from 'node:fs/promises'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { IDENTITY } from '../blockstore/hashing.ts'
import type { IndexEntry } from '../blockstore/pack-index.ts'
import type { PackStore } from '../blockstore/pack-store.ts'
import { pidAlive } from '../fs-utils.ts'
import { pacer } from '../pace.ts'
import type { Repo } from '../repo.ts'
import { readVfsRoot } from '../vfs/root-store.ts'
import { links } from './links.ts'

export interface GcResult {
  removedBlocks: number
  removedBytes: number
  /** Pack files deleted, rewritten (sparse) or merged (small) to reclaim space. */
  packsReclaimed: number
  /** Blocks under pins that are missing or unreadable; gc never removes them, but reports them (at most 100). */
  damaged: string[]
  /** True when an add kept running past `maxWaitMs`, so some unreachable blocks were left for the next gc. */
  deferred: boolean
}

export interface GcProgress {
  phase: 'mark' | 'sweep' | 'reclaim'
  /** Blocks marked live so far. */
  marked: number
  removedBlocks: number
  removedBytes: number
}

export interface GcOptions {
  /** Called now and then with what gc has done so far. */
  onProgress?: (p: GcProgress) => void
  /** Extra roots to keep besides the pins (e.g. the VFS root). */
  roots?: () => CID[] | Promise<CID[]>
  /** How long the sweep waits for adds in flight before it leaves the rest for the next gc. */
  maxWaitMs?: number
  signal?: AbortSignal
}

/** A pack whose live bytes fall under this share of its file is rewritten. */
const COMPACT_BELOW = 0.5
/** Packs (not in use) smaller than this are merged into this process's pack. */
const SMALL_PACK = 16 << 20
/** Rows deleted per write transaction: each holds the index's write lock, and the event loop, for a few ms (2,000 took 25-35 ms). */
const SWEEP_BATCH = 500
/** Marking lets the event loop run after this much work without a wait (a daemon's requests). */
const PACE_MS = 4
/** Rows of a pack counted per statement when gc sizes up packs (about 2 ms each). */
const TOTALS_PAGE = 2048
/** A re-mark also walks pins stamped this long before the last mark began (clocks are not exact). */
const CLOCK_SLACK_MS = 5000
/** Blocks read together while marking. */
const MARK_BATCH = 64

/**
 * Removes every block no pin reaches (`ipfs-kit gc`), then reclaims disk space. The mark holds no
 * lock: live multihashes go to a temporary table on disk (memory stays flat for any number of
 * blocks). The sweep deletes in short transactions, each only while no add is in flight (an add
 * may have deduplicated against a block about to go) and none finished since the mark (its pin
 * may reach one); otherwise it re-marks (pins already walked cost one row lookup each) or waits.
 * Writers never wait for gc longer than one sweep transaction.
 */
export async function gc(repo: Repo, opts: GcOptions = {}): Promise<GcResult> {
  const store = repo.blocks
  const index = store.index
  const progress: GcProgress = { phase: 'mark', marked: 0, removedBlocks: 0, removedBytes: 0 }
  const report = () => opts.onProgress?.({ ...progress })
  const damaged: string[] = []
  let damagedCount = 0
  const onDamaged = (msg: string) => {
    if (damagedCount++ < 100) damaged.push(msg)
  }
  let deferred = false
  index.beginMark()
  try {
    let generation = index.generation()
    let markedAt = Date.now()
    await markAll(repo, opts, progress, onDamaged, report)
    progress.phase = 'sweep'
    report()
    let after: Uint8Array | undefined
    let waitedSince: number | undefined
    for (;;) {
      opts.signal?.throwIfAborted()
      const batch = index.unmarked(after, SWEEP_BATCH)
      if (batch.length === 0) break
      const outcome = index.deleteIfQuiet(batch, generation)
      if (outcome === 'busy') {
        waitedSince ??= Date.now()
        if (Date.now() - waitedSince > (opts.maxWaitMs ?? 60_000)) {
          deferred = true
          break
        }
        await new Promise((r) => setTimeout(r, 50))
        continue
      }
      waitedSince = undefined
      if (outcome === 'changed') {
        // an add finished since the mark: walk the pins made or changed since then (the rest are
        // marked already), then look at this batch again
        generation = index.generation()
        const since = markedAt - CLOCK_SLACK_MS
        markedAt = Date.now()
        await markAll(repo, opts, progress, onDamaged, report, since)
        continue
      }
      after = batch.at(-1)!.mh
      progress.removedBlocks += batch.length
      progress.removedBytes += batch.reduce((n, e) => n + e.length, 0)
      report()
      await new Promise((r) => setImmediate(r))
    }
  } finally {
    index.endMark()
  }
  progress.phase = 'reclaim'
  report()
  const packsReclaimed = await reclaim(store, opts.signal)
  if (damagedCount > damaged.length) damaged.push(`... and ${damagedCount - damaged.length} more`)
  return {
    removedBlocks: progress.removedBlocks,
    removedBytes: progress.removedBytes,
    packsReclaimed,
    damaged,
    deferred,
  }
}

/**
 * Marks every block reachable from a pin (or an extra root). A block already marked was walked
 * with everything under it, so a second mark only walks what is new.
 */
async function markAll(
  repo: Repo,
  opts: GcOptions,
  progress: GcProgress,
  onDamaged: (msg: string) => void,
  report: () => void,
  since?: number,
): Promise<void> {
  const pace = pacer(PACE_MS)
  // the VFS root is a gc root too: everything reachable from `vfs stat /` stays (read again at
  // every re-mark, since a VFS change records its new root before its writer closes)
  const vfsRoot = readVfsRoot(repo.dir)
  const extra = [...(vfsRoot == null ? [] : [vfsRoot]), ...((await opts.roots?.()) ?? [])]
  for (const root of extra) await markDag(repo, root, true, progress, onDamaged, pace)
  // pins are paged by CID, so the state database is never held by one long query
  const page =
    since == null
      ? repo.db.prepare('SELECT cid, type FROM pins WHERE cid > @after ORDER BY cid LIMIT 500')
      : // the pins made or changed since, found by their indexes (few, beside a million unchanged)
        repo.db.prepare(
          `SELECT cid, type FROM (
             SELECT cid, type FROM pins INDEXED BY pins_by_created WHERE created_at >= @since
             UNION SELECT cid, type FROM pins INDEXED BY pins_by_updated WHERE updated_at >= @since
           ) WHERE cid > @after ORDER BY cid LIMIT 500`,
        )
  let after = ''
  for (;;) {
    const pins = page.all(since == null ? { after } : { after, since }) as {
      cid: string
      type: 'recursive' | 'direct'
    }[]
    if (pins.length === 0) break
    for (const pin of pins) {
      opts.signal?.throwIfAborted()
      await markDag(repo, CID.parse(pin.cid), pin.type === 'recursive', progress, onDamaged, pace)
      // pins whose blocks need no reads never await: let the daemon's requests in every few ms
      await pace()
    }
    after = pins.at(-1)!.cid
    report()
  }
}

async function markDag(
  repo: Repo,
  root: CID,
  recursive: boolean,
  progress: GcProgress,
  onDamaged: (msg: string) => void,
  pace: () => Promise<void> | undefined,
): Promise<void> {
  const index = repo.blocks.index
  if (!index.markLive(root.multihash.bytes)) return
  progress.marked++
  if (!recursive || !hasLinks(root)) return
  let toRead: CID[] = [root]
  while (toRead.length > 0) {
    const batch = toRead.splice(0, MARK_BATCH)
    const blocks = await Promise.all(
      batch.map((cid) =>
        repo.blocks.readAsync(cid, false).catch((err: Error) => {
          onDamaged(`${cid} (under ${root}): ${err.message}`)
          return undefined
        }),
      ),
    )
    for (const [i, bytes] of blocks.entries()) {
      if (bytes == null) continue
      let children: CID[]
      try {
        children = links(batch[i]!, bytes)
      } catch (err) {
        // a block that cannot be decoded is kept (it is marked) and reported; gc goes on
        onDamaged(`${batch[i]} (under ${root}): ${(err as Error).message}`)
        continue
      }
      // a node of a large file links thousands of leaves: one row each, paced
      for (const child of children) {
        await pace()
        if (!index.markLive(child.multihash.bytes)) continue
        progress.marked++
        if (hasLinks(child)) toRead.push(child)
      }
    }
    if (toRead.length > 10 * MARK_BATCH) toRead = toRead.slice() // keep the array compact
  }
}

/** Raw and identity blocks link to nothing: marking never needs to read them. */
function hasLinks(cid: CID): boolean {
  return cid.code !== raw.code && cid.multihash.code !== IDENTITY
}

/**
 * Deletes packs with no live block, rewrites sparse ones and merges small ones into this process's
 * pack; never touches a pack another live process is writing.
 */
async function reclaim(store: PackStore, signal?: AbortSignal): Promise<number> {
  let reclaimed = 0
  const pace = pacer(PACE_MS)
  const packs: { id: number; blocks: number; live: number; size?: number }[] = []
  for (const p of store.index.packList()) {
    if (store.isActive(p.id) || (p.pid !== process.pid && pidAlive(p.pid))) continue
    signal?.throwIfAborted()
    const size = await stat(store.packPath(p.id)).then(
      (s) => s.size,
      () => undefined,
    )
    packs.push({ id: p.id, size, ...(await packTotals(store, p.id, pace)) })
  }
  const small = packs.filter((p) => p.blocks > 0 && (p.size ?? Infinity) < SMALL_PACK)
  for (const pack of packs) {
    signal?.throwIfAborted()
    if (pack.blocks === 0) {
      store.removePack(pack.id)
      reclaimed++
      continue
    }
    if (pack.size == null) continue
    const sparse = pack.live < pack.size * COMPACT_BELOW
    const mergeable = small.length > 1 && small.includes(pack)
    if (!sparse && !mergeable) continue
    await movePack(store, pack.id)
    reclaimed++
  }
  return reclaimed
}

/**
 * A pack's live blocks and bytes, counted in pages with a turn of the event loop between them: one
 * statement over a pack of millions of rows stalled the loop for seconds (2.2 s at 10M blocks).
 */
async function packTotals(
  store: PackStore,
  id: number,
  pace: () => Promise<void> | undefined,
): Promise<{ blocks: number; live: number }> {
  let blocks = 0
  let live = 0
  let after: Uint8Array | undefined
  do {
    const page = store.index.packTotalsPage(id, after, TOTALS_PAGE)
    blocks += page.blocks
    live += page.live
    after = page.last
    await pace()
  } while (after != null)
  return { blocks, live }
}

/** Moves a pack's live blocks into this process's active pack, then deletes the pack. */
async function movePack(store: PackStore, id: number): Promise<void> {
  let after: Uint8Array | undefined
  for (;;) {
    const entries: IndexEntry[] = store.index.entriesInPackPage(id, after, 1024)
    if (entries.length === 0) break
    const moved: IndexEntry[] = []
    for (const e of entries) moved.push(await store.append(CID.decode(e.cid), await store.readAtAsync(e)))
    await store.sync(new Set(moved.map((m) => m.pack)))
    store.index.relocate(moved)
    after = entries.at(-1)!.mh
  }
  store.removePack(id)
}
