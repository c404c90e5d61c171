import type { CID } from 'multiformats/cid'
import { type BlockSource, blocksGetter, type ReadOptions } from './blocks.ts'
import { type ContentNode, decodeNode, fileSize } from './node.ts'
import { type DirLink, dirLinks, resolve } from './resolve.ts'

const LS_BATCH = 64

export interface LsEntry {
  name: string
  cid: CID
  size: bigint
  type: 'file' | 'directory' | 'raw' | 'symlink' | 'other'
}

/** Lists a directory (`ipfs ls`); a file lists as itself. */
export async function ls(store: BlockSource, path: string, opts: ReadOptions = {}): Promise<LsEntry[]> {
  const entry = await resolve(store, path, opts)
  if (entry.kind !== 'directory' && entry.kind !== 'hamt') return [describe(entry, entry.name)]
  // children's root blocks in batches: neighbours in one read, or concurrent fetches
  const getMany = blocksGetter(store, opts)
  const out: LsEntry[] = []
  let batch: DirLink[] = []
  const flush = async () => {
    const blocks = await getMany(batch.map((l) => l.cid))
    for (const [i, l] of batch.entries()) out.push(describe(decodeNode(l.cid, blocks[i]!), l.name))
    batch = []
  }
  for await (const link of dirLinks(store, entry, opts)) {
    batch.push(link)
    if (batch.length === LS_BATCH) await flush()
  }
  await flush()
  return out
}

/** The type and size `ls` and `stat` report for a node. */
export function describe(n: ContentNode, name: string): LsEntry {
  const type: LsEntry['type'] = n.kind === 'hamt' ? 'directory' : n.kind === 'object' ? 'other' : n.kind
  return { name, cid: n.cid, size: fileSize(n), type }
}
