import type { CID } from 'multiformats/cid'
import { type BlockSource, blockGetter, type ReadOptions } from './blocks.ts'
import { type ContentNode, fileSize } from './node.ts'
import { dirLinks, readNode, resolve } from './resolve.ts'

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
  const get = blockGetter(store, opts)
  const out: LsEntry[] = []
  for await (const link of dirLinks(store, entry, opts)) {
    out.push(describe(await readNode(get, link.cid), link.name))
  }
  return out
}

/** The type and size `ls` and `stat` report for a node. */
export function describe(n: ContentNode, name: string): LsEntry {
  const type: LsEntry['type'] = n.kind === 'hamt' ? 'directory' : n.kind === 'object' ? 'other' : n.kind
  return { name, cid: n.cid, size: fileSize(n), type }
}
