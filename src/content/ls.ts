import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
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
  const out: (LsEntry | undefined)[] = []
  // entries whose blocks must be read, with their places in `out` (kept in link order)
  let batch: { at: number; link: DirLink }[] = []
  const flush = async () => {
    const blocks = await getMany(batch.map((b) => b.link.cid))
    for (const [i, { at, link }] of batch.entries())
      out[at] = describe(decodeNode(link.cid, blocks[i]!), link.name)
    batch = []
  }
  for await (const link of dirLinks(store, entry, opts)) {
    // a raw block is a file whose size its link records: listed without reading it, as Kubo does
    if (link.cid.code === raw.code && link.tsize != null) {
      out.push({ name: link.name, cid: link.cid, size: BigInt(link.tsize), type: 'raw' })
      continue
    }
    batch.push({ at: out.length, link })
    out.push(undefined) // filled by flush
    if (batch.length === LS_BATCH) await flush()
  }
  await flush()
  return out as LsEntry[] // every slot filled
}

/** The type and size `ls` and `stat` report for a node. */
export function describe(n: ContentNode, name: string): LsEntry {
  const type: LsEntry['type'] = n.kind === 'hamt' ? 'directory' : n.kind === 'object' ? 'other' : n.kind
  return { name, cid: n.cid, size: fileSize(n), type }
}
