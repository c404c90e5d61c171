import { statSync } from 'node:fs'
import { CID } from 'multiformats/cid'
import { blockKey } from '../blockstore/hashing.ts'
import type { PackStore } from '../blockstore/pack-store.ts'
import { pidAlive } from '../fs-utils.ts'
import type { Repo } from '../repo.ts'
import { readVfsRoot } from '../vfs/root-store.ts'
import { links } from './links.ts'

export interface GcResult {
  removedBlocks: number
  removedBytes: number
  /** Pack files deleted or rewritten to reclaim the space of removed blocks. */
  packsReclaimed: number
  /** Blocks under pins that are missing or corrupt; gc never removes them, but reports them. */
  damaged: string[]
}

/** A pack whose live bytes fall under this share of its file is rewritten. */
const COMPACT_BELOW = 0.5

/**
 * Removes every block no pin reaches (`ipfs-kit gc`), then reclaims disk space. It refuses to run
 * (BusyError) while an add is in flight, so it can never delete a block an add has deduplicated.
 */
export async function gc(repo: Repo): Promise<GcResult> {
  const store = repo.blocks
  const generation = store.index.generation()
  const { live, damaged } = liveSet(repo)
  const removed = store.index.exclusive(generation, () => {
    const dead = [...store.index.entries()].filter((e) => !live.has(Buffer.from(e.mh).toString('base64')))
    for (const e of dead) store.index.delete(e.mh)
    return { blocks: dead.length, bytes: dead.reduce((n, e) => n + e.length, 0) }
  })
  const packsReclaimed = await reclaim(store)
  return { removedBlocks: removed.blocks, removedBytes: removed.bytes, packsReclaimed, damaged }
}

function liveSet(repo: Repo): { live: Set<string>; damaged: string[] } {
  const live = new Set<string>()
  const damaged: string[] = []
  // the VFS root is a gc root too: everything reachable from `vfs stat /` stays
  const vfsRoot = readVfsRoot(repo.dir)
  const vfs = vfsRoot == null ? [] : [{ cid: vfsRoot.toString(), type: 'recursive' as const }]
  for (const pin of [...repo.pins.list(), ...vfs]) {
    const stack = [CID.parse(pin.cid)]
    while (stack.length > 0) {
      const cid = stack.pop()!
      const key = blockKey(cid)
      if (live.has(key)) continue
      live.add(key)
      if (pin.type === 'direct' && !cid.equals(CID.parse(pin.cid))) continue
      let bytes: Uint8Array
      try {
        bytes = repo.blocks.read(cid)
      } catch (err) {
        damaged.push(`${cid} (under pin ${pin.cid}): ${(err as Error).message}`)
        continue
      }
      if (pin.type === 'recursive') stack.push(...links(cid, bytes))
    }
  }
  return { live, damaged }
}

/** Deletes packs with no live block and rewrites sparse ones; never touches a live writer's pack. */
async function reclaim(store: PackStore): Promise<number> {
  let reclaimed = 0
  for (const pack of store.index.packs()) {
    if (store.isActive(pack.id) || (pack.pid !== process.pid && pidAlive(pack.pid))) continue
    if (pack.blocks === 0) {
      store.removePack(pack.id)
      reclaimed++
      continue
    }
    let fileBytes: number
    try {
      fileBytes = statSync(store.packPath(pack.id)).size
    } catch {
      continue
    }
    if (pack.live >= fileBytes * COMPACT_BELOW) continue
    const moved = []
    for (const entry of store.index.entriesInPack(pack.id)) {
      moved.push(await store.append(CID.decode(entry.cid), store.readAt(entry)))
    }
    await store.sync(new Set(moved.map((m) => m.pack)))
    store.index.relocate(moved)
    store.removePack(pack.id)
    reclaimed++
  }
  return reclaimed
}
