import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { BlockWriter, PackStore } from '../blockstore/pack-store.ts'
import { InvalidInputError } from '../errors.ts'

/** A dag-pb link as MFS writes it: file links have the name "", Tsize is the child's cumulative size. */
export interface Link {
  Hash: CID
  Name: string
  Tsize: number
}

/** CID version of the nodes a builder makes (Kubo's `cid.Builder`; always sha2-256 here). */
export type CidVersion = 0 | 1

/**
 * CID version of new files and directories without `--cid-version`: Kubo 0.41 takes it from
 * Import.CidVersion (default 0) for every `files` command, whatever the parent directory's version.
 */
export const DEFAULT_CID_VERSION: CidVersion = 0

/** A mutable dag-pb node (Go's `merkledag.ProtoNode`). */
export class PbNode {
  data: Uint8Array | undefined
  links: Link[]
  version: CidVersion

  constructor(data: Uint8Array | undefined, links: Link[] = [], version: CidVersion = 0) {
    this.data = data
    this.links = links
    this.version = version
  }

  /** Adds a link named `name` to `child` (its Tsize is the child's cumulative size). */
  addLink(name: string, child: Node): void {
    this.links.push({ Name: name, Hash: child.cid, Tsize: child.size })
  }

  copy(): PbNode {
    return new PbNode(
      this.data,
      this.links.map((l) => ({ ...l })),
      this.version,
    )
  }
}

/** A node with its CID and encoded bytes: what a link points at. */
export interface Node {
  cid: CID
  bytes: Uint8Array
  /** Cumulative size, Go's `Node.Size()`: the block plus every linked block's Tsize. */
  size: number
}

/** Go's link order: stable sort by name, byte order. */
function sortLinks(links: Link[]): Link[] {
  return [...links].sort((a, b) => Buffer.compare(Buffer.from(a.Name), Buffer.from(b.Name)))
}

/** Encodes and hashes a dag-pb node. */
export function sealPb(node: PbNode): Node {
  const bytes = dagPb.encode({
    Data: node.data,
    Links: sortLinks(node.links).map((l) => ({ Hash: l.Hash, Name: l.Name, Tsize: l.Tsize })),
  })
  const digest = sha256.digest(bytes)
  if (digest instanceof Promise) throw new Error('sha256 must be synchronous')
  const cid = node.version === 0 ? CID.createV0(digest) : CID.createV1(dagPb.code, digest)
  let size = bytes.length
  for (const l of node.links) size += l.Tsize
  return { cid, bytes, size }
}

/** Seals raw leaf bytes (always CIDv1, as Go's NewRawNodeWPrefix makes a v0 prefix v1). */
export function sealRaw(data: Uint8Array): Node {
  const digest = sha256.digest(data)
  if (digest instanceof Promise) throw new Error('sha256 must be synchronous')
  return { cid: CID.createV1(raw.code, digest), bytes: data, size: data.length }
}

/** A decoded block: a raw leaf, or a dag-pb node. */
export type Decoded = { kind: 'raw'; cid: CID; data: Uint8Array } | { kind: 'pb'; cid: CID; node: PbNode }

export function decodeBlock(cid: CID, bytes: Uint8Array): Decoded {
  if (cid.code === raw.code) return { kind: 'raw', cid, data: bytes }
  if (cid.code !== dagPb.code)
    throw new InvalidInputError(
      `${cid} is not UnixFS (codec 0x${cid.code.toString(16)}): only dag-pb and raw`,
    )
  const pb = dagPb.decode(bytes)
  const links = pb.Links.map((l) => ({ Hash: l.Hash, Name: l.Name ?? '', Tsize: l.Tsize ?? 0 }))
  return { kind: 'pb', cid, node: new PbNode(pb.Data, links, cid.version as CidVersion) }
}

/** Cumulative size of a stored block: its length plus its links' Tsizes. */
export function cumulativeSize(cid: CID, bytes: Uint8Array): number {
  if (cid.code !== dagPb.code) return bytes.length
  let n = bytes.length
  for (const l of dagPb.decode(bytes).Links) n += l.Tsize ?? 0
  return n
}

/**
 * The blocks one VFS mutation reads and writes. New blocks go through one BlockWriter (durable on
 * commit); dag-pb nodes written in this session stay readable from memory until then (leaves are
 * never read back while writing, so memory grows with the DAG's branch nodes only).
 */
export class DagSession {
  private readonly pending = new Map<string, Uint8Array>()

  constructor(
    readonly store: PackStore,
    /** Absent for a read-only session. */
    readonly writer?: BlockWriter,
  ) {}

  async get(cid: CID): Promise<Uint8Array> {
    const cached = this.pending.get(cid.toString())
    if (cached != null) return cached
    // a leaf written in this session is not cached: make the session's blocks readable first
    if (this.writer != null && !this.store.has(cid) && this.writer.has(cid)) await this.writer.commit()
    return await this.store.readAsync(cid)
  }

  async getDecoded(cid: CID): Promise<Decoded> {
    return decodeBlock(cid, await this.get(cid))
  }

  /** Seals a dag-pb node and writes its block. */
  async putPb(node: PbNode): Promise<Node> {
    const sealed = sealPb(node)
    await this.put(sealed)
    return sealed
  }

  /** Writes a sealed block (idempotent: a block already stored is skipped). */
  async put(node: Node): Promise<void> {
    // branch nodes (their links add to their size) are read back while appending; leaves are not
    if (node.cid.code === dagPb.code && node.size > node.bytes.length)
      this.pending.set(node.cid.toString(), node.bytes)
    if (this.writer == null) throw new Error('a read-only VFS session cannot write blocks')
    await this.writer.put(node.cid, node.bytes)
  }

  /** A stored node as a link target. */
  async node(cid: CID): Promise<Node> {
    const bytes = await this.get(cid)
    return { cid, bytes, size: cumulativeSize(cid, bytes) }
  }
}
