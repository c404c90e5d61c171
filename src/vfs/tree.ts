import type { CID } from 'multiformats/cid'
import { InvalidInputError, PathNotFoundError } from '../errors.ts'
import {
  type CidVersion,
  type DagSession,
  type Decoded,
  decodeBlock,
  type Link,
  type Node,
  PbNode,
} from './dag.ts'
import { VfsNotFoundError, VfsTypeError } from './errors.ts'
import { DIRECTORY_DATA, FsNode, FsType } from './fsnode.ts'
import { Shard } from './hamt.ts'
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

/** Sets (or replaces) the entry `name` (Go's `BasicDirectory.AddChild`). */
function setChild(dir: PbNode, name: string, child: Node): void {
  dir.links = dir.links.filter((l) => l.Name !== name)
  dir.links.push({ Name: name, Hash: child.cid, Tsize: child.size })
}

function removeChild(dir: PbNode, name: string): boolean {
  const before = dir.links.length
  dir.links = dir.links.filter((l) => l.Name !== name)
  return dir.links.length !== before
}

/** The node at `segments`, or undefined when some segment is missing. */
export async function lookup(session: DagSession, root: CID, segments: string[]): Promise<Found | undefined> {
  let found = describeNode(await session.node(root), '/')
  for (let i = 0; i < segments.length; i++) {
    const where = joinPath(segments.slice(0, i))
    if (found.kind !== 'directory' && found.kind !== 'hamt')
      throw new VfsTypeError(`${where} is not a directory`)
    if (found.kind === 'hamt' && !Shard.isKubo(found.decoded))
      return await lookupForeignHamt(session, found, segments.slice(i), where)
    const next = await (await VfsDir.load(session, found, where)).get(segments[i]!)
    if (next == null) return undefined
    found = describeNode(await session.node(next), joinPath(segments.slice(0, i + 1)))
  }
  return found
}

/** Reads through a HAMT of another layout (fanout, mode) with the content core; such a shard is read-only. */
async function lookupForeignHamt(
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
    if (err instanceof PathNotFoundError) return undefined
    throw err
  }
}

/** Kubo's Import.UnixFSHAMTDirectorySizeThreshold default: past it, MFS shards a directory. */
export const HAMT_THRESHOLD_BYTES = 262_144

/** Kubo's default ("links") size estimate of one directory entry: its name plus its CID's bytes. */
function linkSize(name: string, cid: CID): number {
  return Buffer.byteLength(name) + cid.bytes.length
}

/**
 * A directory as MFS edits it (boxo's `DynamicDirectory`): a plain dag-pb directory that becomes a
 * HAMT shard when an addition takes it past 256 KiB of links, and a shard that becomes plain again
 * when a removal (or a smaller replacement) brings it back to 256 KiB or less. As with Kubo's CLI,
 * each operation starts from the stored nodes, so the decision depends on the tree alone.
 */
export class VfsDir {
  private constructor(
    private readonly session: DagSession,
    private plain: PbNode | undefined,
    private hamt: Shard | undefined,
    private readonly version: CidVersion,
  ) {}

  static async load(session: DagSession, found: Found | CID, where: string): Promise<VfsDir> {
    const f = 'kind' in found ? found : describeNode(await session.node(found), where)
    if (f.decoded.kind !== 'pb' || (f.kind !== 'directory' && f.kind !== 'hamt'))
      throw new VfsTypeError(`${where} is not a directory`)
    const version = f.node.cid.version as CidVersion
    if (f.kind === 'hamt')
      return new VfsDir(session, undefined, Shard.decode(f.node.cid, f.decoded.node, where), version)
    return new VfsDir(session, f.decoded.node.copy(), undefined, version)
  }

  async get(name: string): Promise<CID | undefined> {
    if (this.plain != null) return this.plain.links.find((l) => l.Name === name)?.Hash
    return (await this.hamt!.find(this.session, name))?.Hash
  }

  /** Sets (or replaces) the entry `name`. */
  async set(name: string, child: Node): Promise<void> {
    const link = { Name: name, Hash: child.cid, Tsize: child.size }
    if (this.plain != null) {
      const old = this.plain.links.find((l) => l.Name === name)
      let size = 0
      for (const l of this.plain.links) size += linkSize(l.Name, l.Hash)
      const after = size - (old == null ? 0 : linkSize(name, old.Hash)) + linkSize(name, child.cid)
      if (after <= HAMT_THRESHOLD_BYTES) return setChild(this.plain, name, child)
      // boxo's switchToSharding: every existing entry, in link order, then the new one
      const shard = new Shard(this.version)
      for (const l of this.plain.links) await shard.swap(this.session, l.Name, l)
      this.plain = undefined
      this.hamt = shard
      await shard.swap(this.session, name, link)
      return
    }
    const old = await this.hamt!.find(this.session, name)
    const change = linkSize(name, child.cid) - (old == null ? 0 : linkSize(name, old.Hash))
    if (change < 0 && (await this.fitsPlain(change))) {
      this.toPlain(await this.entries())
      return setChild(this.plain!, name, child)
    }
    await this.hamt!.swap(this.session, name, link)
  }

  /** Removes the entry `name`; false when there is none. */
  async remove(name: string): Promise<boolean> {
    if (this.plain != null) return removeChild(this.plain, name)
    const old = await this.hamt!.find(this.session, name)
    if (old == null) return false
    if (await this.fitsPlain(-linkSize(name, old.Hash))) {
      this.toPlain(await this.entries())
      return removeChild(this.plain!, name)
    }
    await this.hamt!.swap(this.session, name, undefined)
    return true
  }

  /** Writes the directory (and any changed sub-shards); returns its node. */
  async seal(): Promise<Node> {
    if (this.plain != null) return await this.session.putPb(this.plain)
    return await this.hamt!.seal(this.session)
  }

  /** boxo's sizeBelowThreshold: the shard's entries plus `change` fit in a plain directory. */
  private async fitsPlain(change: number): Promise<boolean> {
    let size = change
    return await this.hamt!.forEach(this.session, (l) => {
      size += linkSize(l.Name, l.Hash)
      return size <= HAMT_THRESHOLD_BYTES
    })
  }

  private async entries(): Promise<Link[]> {
    const out: Link[] = []
    await this.hamt!.forEach(this.session, (l) => {
      out.push(l)
      return true
    })
    return out
  }

  private toPlain(links: Link[]): void {
    this.plain = new PbNode(DIRECTORY_DATA, links, this.version)
    this.hamt = undefined
  }
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
  edit: (dir: VfsDir, where: string) => void | Promise<void>,
  opts: EditOptions,
): Promise<Node> {
  const walk = async (cid: CID, depth: number): Promise<Node> => {
    const where = joinPath(segments.slice(0, depth))
    const dir = await VfsDir.load(session, cid, where)
    if (depth === segments.length) {
      await edit(dir, where)
      return await dir.seal()
    }
    const name = segments[depth]!
    let child = await dir.get(name)
    if (child == null) {
      if (!opts.parents) throw new VfsNotFoundError(joinPath(segments.slice(0, depth + 1)))
      child = (await session.putPb(emptyDir(opts.dirVersion))).cid
    }
    await dir.set(name, await walk(child, depth + 1))
    return await dir.seal()
  }
  return await walk(root, 0)
}
