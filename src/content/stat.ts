import type { CID } from 'multiformats/cid'
import type { BlockSource, ReadOptions } from './blocks.ts'
import { walkBlocks } from './links.ts'
import { describe, type LsEntry } from './ls.ts'
import { resolve } from './resolve.ts'

export interface StatResult {
  cid: CID
  type: LsEntry['type']
  /** File size in bytes (0 for a directory), as `ipfs files stat`. */
  size: bigint
  /** Size of the whole DAG in blocks' bytes. */
  cumulativeSize: number
  blocks: number
  childBlocks: number
}

/** Stats a DAG (`ipfs files stat`): its type, size, and the blocks and bytes it spans. */
export async function stat(store: BlockSource, path: string, opts: ReadOptions = {}): Promise<StatResult> {
  const entry = await resolve(store, path, opts)
  const { type, size } = describe(entry, entry.name)
  let cumulativeSize = 0
  let blocks = 0
  for await (const block of walkBlocks(store, entry.cid, opts)) {
    cumulativeSize += block.length
    blocks++
  }
  const childBlocks = entry.kind === 'raw' || entry.kind === 'object' ? 0 : entry.node.Links.length
  return { cid: entry.cid, type, size, cumulativeSize, blocks, childBlocks }
}
