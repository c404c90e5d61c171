import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { BlockSource, ReadOptions } from './blocks.ts'
import { type ContentNode, fileSize } from './node.ts'
import { type DirLink, dirEntries, resolve } from './resolve.ts'

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
  const out: LsEntry[] = []
  // a raw block is a file whose size its link records: listed without reading it, as Kubo does
  const unread = (l: DirLink) => l.cid.code === raw.code && l.tsize != null
  for await (const { link, node } of dirEntries(store, entry, opts, { unread })) {
    out.push(
      node == null
        ? { name: link.name, cid: link.cid, size: BigInt(link.tsize!), type: 'raw' }
        : describe(node, link.name),
    )
  }
  return out
}

/** The type and size `ls` and `stat` report for a node. */
export function describe(n: ContentNode, name: string): LsEntry {
  const type: LsEntry['type'] = n.kind === 'hamt' ? 'directory' : n.kind === 'object' ? 'other' : n.kind
  return { name, cid: n.cid, size: fileSize(n), type }
}
