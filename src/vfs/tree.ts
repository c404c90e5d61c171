import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { InvalidInputError } from '../errors.ts'
import { type CidVersion, type DagSession, type Decoded, decodeBlock, type Node, PbNode } from './dag.ts'
import { VfsNotFoundError, VfsTypeError } from './errors.ts'
import { DIRECTORY_DATA, FsNode, FsType } from './fsnode.ts'
import { joinPath } from './path.ts'

/** What a VFS entry is. */
export type EntryType = 'file' | 'directory' | 'symlink'

/** A node found at a path, with what it is. */
export interface Found {
  node: Node
  decoded: Decoded
  kind: 'file' | 'directory' | 'hamt' | 'symlink'
  /** File size in bytes (0 for a directory). */
  size: number
}

/** Classifies a block as the VFS sees it; anything that is not UnixFS is refused. */
export function classify(decoded: Decoded, where: string): Found['kind'] {
  if (decoded.kind === 'raw') return 'file'
  let fsn: FsNode
  try {
    fsn = FsNode.decode(decoded.node.data ?? new Uint8Array(0))
  } catch {
    throw new InvalidInputError(`${where} (${decoded.cid}) is not a UnixFS node`)
  }
  switch (fsn.type) {
    case FsType.Directory:
      return 'directory'
    case FsType.HAMTShard:
      return 'hamt'
    case FsType.File:
    case FsType.Raw:
      return 'file'
    case FsType.Symlink:
      return 'symlink'
    default:
      throw new InvalidInputError(`${where} (${decoded.cid}) is a UnixFS node of an unsupported type`)
  }
}

export function describeNode(node: Node, where: string): Found {
  const decoded = decodeBlock(node.cid, node.bytes)
  const kind = classify(decoded, where)
  let size = 0
  if (decoded.kind === 'raw') size = decoded.data.length
  else if (kind === 'file' || kind === 'symlink')
    size = Number(FsNode.decode(decoded.node.data ?? new Uint8Array(0)).fileSize())
  return { node, decoded, kind, size }
}

/** An empty UnixFS directory as MFS makes it. */
export function emptyDir(version: CidVersion): PbNode {
  return new PbNode(DIRECTORY_DATA, [], version)
}

/** The entry `name` of a plain directory. */
export function childLink(dir: PbNode, name: string): CID | undefined {
  return dir.links.find((l) => l.Name === name)?.Hash
}

/** Sets (or replaces) the entry `name` (Go's `BasicDirectory.AddChild`). */
export function setChild(dir: PbNode, name: string, child: Node): void {
  dir.links = dir.links.filter((l) => l.Name !== name)
  dir.links.push({ Name: name, Hash: child.cid, Tsize: child.size })
}

export function removeChild(dir: PbNode, name: string): boolean {
  const before = dir.links.length
  dir.links = dir.links.filter((l) => l.Name !== name)
  return dir.links.length !== before
}

/** The node at `segments`, or undefined when some segment is missing. */
export async function lookup(session: DagSession, root: CID, segments: string[]): Promise<Found | undefined> {
  let found = describeNode(await session.node(root), '/')
  for (let i = 0; i < segments.length; i++) {
    const where = joinPath(segments.slice(0, i))
    if (found.kind === 'hamt') return await lookupHamt(session, found, segments.slice(i), where)
    if (found.kind !== 'directory') throw new VfsTypeError(`${where} is not a directory`)
    const next = childLink((found.decoded as { node: PbNode }).node, segments[i]!)
    if (next == null) return undefined
    found = describeNode(await session.node(next), joinPath(segments.slice(0, i + 1)))
  }
  return found
}

/** Resolves the rest of a path inside a HAMT-sharded directory (read-only) with the content core. */
async function lookupHamt(
  session: DagSession,
  dir: Found,
  rest: string[],
  where: string,
): Promise<Found | undefined> {
  const { resolve } = await import('../content/resolve.ts')
  try {
    const r = await resolve(session.store, `${dir.node.cid}/${rest.join('/')}`)
    return describeNode(await session.node(r.cid), `${where}/${rest.join('/')}`)
  } catch (err) {
    if (
      (err as { code?: string }).code === 'ERR_INVALID_INPUT' &&
      /no such path/.test((err as Error).message)
    )
      return undefined
    throw err
  }
}

/** Reads a plain directory to modify it; a HAMT-sharded one is refused (not supported yet). */
export async function loadDir(session: DagSession, cid: CID, where: string): Promise<PbNode> {
  const found = describeNode(await session.node(cid), where)
  if (found.kind === 'hamt')
    throw new InvalidInputError(
      `${where} is a HAMT-sharded directory: the VFS reads it but cannot modify it yet (copy its entries into a plain directory)`,
    )
  if (found.kind !== 'directory') throw new VfsTypeError(`${where} is not a directory`)
  return (found.decoded as { node: PbNode }).node.copy()
}

/** Kubo's Import.UnixFSHAMTDirectorySizeThreshold default: past it, MFS shards a directory. */
export const HAMT_THRESHOLD_BYTES = 262_144

/** Kubo's default ("links") size estimate of a plain directory: names plus CID bytes. */
export function estimatedDirSize(dir: PbNode): number {
  let n = 0
  for (const l of dir.links) n += Buffer.byteLength(l.Name) + l.Hash.bytes.length
  return n
}

/**
 * Refuses an edit that grows a plain directory past Kubo's sharding threshold: Kubo would turn it
 * into a HAMT, which the VFS does not write yet, so going on would silently give another CID.
 */
function checkShardThreshold(before: number, dir: PbNode, where: string): void {
  const after = estimatedDirSize(dir)
  if (after > HAMT_THRESHOLD_BYTES && after > before)
    throw new InvalidInputError(
      `${where} would pass ${HAMT_THRESHOLD_BYTES} bytes of links, where Kubo turns a directory into a HAMT shard, which the VFS cannot write yet: spread its entries over subdirectories`,
    )
}

export interface EditOptions {
  /** Create missing directories on the way (`-p`). */
  parents?: boolean
  /** CID version of directories created on the way. */
  dirVersion: CidVersion
}

/**
 * Path-copying edit: loads the directory at `segments`, lets `edit` change it, then rewrites it and
 * every directory above it up to a new root, as MFS's flush does. Returns the new root.
 */
export async function editDir(
  session: DagSession,
  root: CID,
  segments: string[],
  edit: (dir: PbNode, where: string) => void | Promise<void>,
  opts: EditOptions,
): Promise<Node> {
  const walk = async (cid: CID, depth: number): Promise<Node> => {
    const where = joinPath(segments.slice(0, depth))
    const dir = await loadDir(session, cid, where)
    if (depth === segments.length) {
      const before = estimatedDirSize(dir)
      await edit(dir, where)
      checkShardThreshold(before, dir, where)
      return await session.putPb(dir)
    }
    const name = segments[depth]!
    let child = childLink(dir, name)
    if (child == null) {
      if (!opts.parents) throw new VfsNotFoundError(joinPath(segments.slice(0, depth + 1)))
      child = (await session.putPb(emptyDir(opts.dirVersion))).cid
    }
    const updated = await walk(child, depth + 1)
    const before = estimatedDirSize(dir)
    setChild(dir, name, updated)
    checkShardThreshold(before, dir, where)
    return await session.putPb(dir)
  }
  return await walk(root, 0)
}

/** True for a raw block CID. */
export function isRawCid(cid: CID): boolean {
  return cid.code === raw.code
}
