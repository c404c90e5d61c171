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

/** Lists a directory (`ipfs ls`) in its links' order; a file lists as itself. */
export async function ls(store: BlockSource, path: string, opts: ReadOptions = {}): Promise<LsEntry[]> {
  const out: LsEntry[] = []
  for await (const e of lsEntries(store, path, opts)) out.push(e)
  return out
}

/**
 * The entries of a directory as its blocks are read (a HAMT's in shard order, not by name), a
 * batch of blocks at a time: what `ipfs ls --stream` prints without holding the directory.
 */
export async function* lsEntries(
  store: BlockSource,
  path: string,
  opts: ReadOptions = {},
): AsyncGenerator<LsEntry> {
  const entry = await resolve(store, path, opts)
  if (entry.kind !== 'directory' && entry.kind !== 'hamt') {
    yield describe(entry, entry.name)
    return
  }
  // a raw block is a file whose size its link records: listed without reading it, as Kubo does
  const unread = (l: DirLink) => l.cid.code === raw.code && l.tsize != null
  for await (const { link, node } of dirEntries(store, entry, opts, { unread })) {
    yield node == null
      ? { name: link.name, cid: link.cid, size: BigInt(link.tsize!), type: 'raw' }
      : describe(node, link.name)
  }
}

/** Sorts entries by name as Kubo's `ipfs ls` does (Go's string order: the names' UTF-8 bytes). */
export function sortByName(entries: LsEntry[]): LsEntry[] {
  const keyed = entries.map((e) => ({ key: Buffer.from(e.name, 'utf8'), e }))
  keyed.sort((a, b) => Buffer.compare(a.key, b.key))
  return keyed.map((k) => k.e)
}

/**
 * `ipfs ls` lines as Kubo prints them: `<cid> <size> <name>`, or `<cid> - <name>/` for a
 * directory, through Go's tabwriter (minimum width `minWidth`, padding 1, spaces): each of the two
 * first columns as wide as its widest cell plus one. Kubo aligns a whole listing (minimum 1) and,
 * with --stream, each line alone (minimum 10).
 */
export function lsLines(entries: LsEntry[], minWidth: number): string[] {
  const cells = entries.map((e) =>
    e.type === 'directory'
      ? [e.cid.toString(), '-', `${e.name}/`]
      : [e.cid.toString(), e.size.toString(), e.name],
  )
  let w0 = minWidth
  let w1 = minWidth
  for (const [c0, c1] of cells) {
    w0 = Math.max(w0, c0!.length + 1)
    w1 = Math.max(w1, c1!.length + 1)
  }
  return cells.map(([c0, c1, c2]) => c0!.padEnd(w0) + c1!.padEnd(w1) + c2)
}

/** The type and size `ls` and `stat` report for a node. */
export function describe(n: ContentNode, name: string): LsEntry {
  const type: LsEntry['type'] = n.kind === 'hamt' ? 'directory' : n.kind === 'object' ? 'other' : n.kind
  return { name, cid: n.cid, size: fileSize(n), type }
}
