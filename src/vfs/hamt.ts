import { murmur3128 } from '@multiformats/murmur3'
import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.ts'
import { type CidVersion, type DagSession, type Decoded, type Link, type Node, PbNode } from './dag.ts'
import { FsNode, FsType } from './fsnode.ts'

/** Kubo's HAMT: 256 buckets per node (8 bits of the hash per level), murmur3-x64-64 of the name. */
const FANOUT = 256
const HASH_MURMUR3 = 0x22
/** Link-name prefix width: `%02X` of the bucket index. */
const PAD = 2

type Child =
  | { kind: 'value'; key: string; cid: CID; tsize: number }
  | { kind: 'shard'; shard: Shard }
  /** A sub-shard not read yet. */
  | { kind: 'lazy'; cid: CID; tsize: number }

/**
 * The 64-bit name hash Kubo uses: murmur3-x64-128's h1, big-endian (Go's murmur3 `New64().Sum`).
 * Buckets take its bytes from the first on (ipfs-unixfs-importer reverses it because hamt-sharding
 * reads from the end).
 */
function hashName(name: string): Uint8Array {
  const digest = murmur3128.encode(Buffer.from(name))
  if (digest instanceof Promise) throw new Error('murmur3 must be synchronous')
  return digest.slice(0, 8)
}

function bucket(hash: Uint8Array, depth: number): number {
  if (depth >= hash.length) throw new InvalidInputError('HAMT-sharded directory too deep (hash exhausted)')
  return hash[depth]!
}

/**
 * A port of boxo's `hamt.Shard` (the node of a sharded directory as MFS edits it): insertion splits
 * a bucket into a sub-shard on collision; removal folds a sub-shard left with one entry back into
 * its parent, one level, exactly as Go does, so the CIDs follow Kubo's step by step.
 */
export class Shard {
  readonly children = new Map<number, Child>()

  constructor(readonly version: CidVersion) {}

  /** Reads a shard node; only Kubo's layout (fanout 256, murmur3, no mode or mtime) is accepted. */
  static decode(cid: CID, node: PbNode, where: string): Shard {
    const fsn = FsNode.decode(node.data ?? new Uint8Array(0))
    const expected = shardData(fsn.data)
    if (fsn.type !== FsType.HAMTShard || !Buffer.from(node.data ?? []).equals(Buffer.from(expected)))
      throw new InvalidInputError(
        `${where} (${cid}) is a HAMT shard the VFS cannot modify (only fanout 256, murmur3, no mode or mtime)`,
      )
    const shard = new Shard(cid.version as CidVersion)
    for (const l of node.links) {
      const index = Number.parseInt(l.Name.slice(0, PAD), 16)
      if (l.Name.length < PAD || !Number.isInteger(index) || index >= FANOUT)
        throw new InvalidInputError(`${where} (${cid}) has an invalid HAMT link name "${l.Name}"`)
      shard.children.set(
        index,
        l.Name.length === PAD
          ? { kind: 'lazy', cid: l.Hash, tsize: l.Tsize }
          : { kind: 'value', key: l.Name.slice(PAD), cid: l.Hash, tsize: l.Tsize },
      )
    }
    return shard
  }

  /** True for a shard node of Kubo's layout, the one this class can edit. */
  static isKubo(d: Decoded): boolean {
    if (d.kind !== 'pb') return false
    try {
      const fsn = FsNode.decode(d.node.data ?? new Uint8Array(0))
      return (
        fsn.type === FsType.HAMTShard &&
        Buffer.from(d.node.data ?? []).equals(Buffer.from(shardData(fsn.data)))
      )
    } catch {
      return false
    }
  }

  async find(session: DagSession, name: string): Promise<Link | undefined> {
    const hash = hashName(name)
    let shard: Shard = this
    for (let depth = 0; ; depth++) {
      const idx = bucket(hash, depth)
      const child = shard.children.get(idx)
      if (child == null) return undefined
      if (child.kind === 'value') {
        return child.key === name ? { Name: name, Hash: child.cid, Tsize: child.tsize } : undefined
      }
      shard = await shard.load(session, idx, child)
    }
  }

  /** Sets (value) or removes (undefined) `name`; returns the entry it replaced (Go's swapValue). */
  async swap(session: DagSession, name: string, value: Link | undefined): Promise<Link | undefined> {
    return await this.swapAt(session, hashName(name), 0, name, value)
  }

  private async swapAt(
    session: DagSession,
    hash: Uint8Array,
    depth: number,
    key: string,
    value: Link | undefined,
  ): Promise<Link | undefined> {
    const idx = bucket(hash, depth)
    const child = this.children.get(idx)
    if (child == null) {
      if (value != null) this.children.set(idx, { kind: 'value', key, cid: value.Hash, tsize: value.Tsize })
      return undefined
    }
    if (child.kind === 'value') {
      if (child.key === key) {
        const old = { Name: key, Hash: child.cid, Tsize: child.tsize }
        if (value == null) this.children.delete(idx)
        else this.children.set(idx, { kind: 'value', key, cid: value.Hash, tsize: value.Tsize })
        return old
      }
      if (value == null) return undefined
      // a collision in this bucket: both entries move one level down, into a new shard
      const sub = new Shard(this.version)
      await sub.swapAt(session, hash, depth + 1, key, value)
      await sub.swapAt(session, hashName(child.key), depth + 1, child.key, {
        Name: child.key,
        Hash: child.cid,
        Tsize: child.tsize,
      })
      this.children.set(idx, { kind: 'shard', shard: sub })
      return undefined
    }
    const sub = await this.load(session, idx, child)
    const old = await sub.swapAt(session, hash, depth + 1, key, value)
    if (value == null) {
      if (sub.children.size === 0) this.children.delete(idx)
      else if (sub.children.size === 1) {
        const only = [...sub.children.values()][0]!
        if (only.kind === 'value') this.children.set(idx, only)
      }
    }
    return old
  }

  private async load(session: DagSession, idx: number, child: Child): Promise<Shard> {
    if (child.kind === 'shard') return child.shard
    if (child.kind !== 'lazy') throw new Error('not a sub-shard')
    const d = await session.getDecoded(child.cid)
    if (d.kind !== 'pb') throw new InvalidInputError(`HAMT sub-shard ${child.cid} is not dag-pb`)
    const shard = Shard.decode(child.cid, d.node, `sub-shard ${child.cid}`)
    this.children.set(idx, { kind: 'shard', shard })
    return shard
  }

  /** Every entry, stopping early when `visit` returns false. */
  async forEach(session: DagSession, visit: (l: Link) => boolean): Promise<boolean> {
    for (const idx of [...this.children.keys()].sort((a, b) => a - b)) {
      const child = this.children.get(idx)!
      if (child.kind === 'value') {
        if (!visit({ Name: child.key, Hash: child.cid, Tsize: child.tsize })) return false
      } else if (!(await (await this.load(session, idx, child)).forEach(session, visit))) return false
    }
    return true
  }

  /** Writes this shard and its changed sub-shards; returns the sealed node (Go's `Shard.Node`). */
  async seal(session: DagSession): Promise<Node> {
    const bits = new Uint8Array(FANOUT / 8)
    const links: Link[] = []
    for (const idx of [...this.children.keys()].sort((a, b) => a - b)) {
      const child = this.children.get(idx)!
      // go-bitfield: big-endian, bit i in byte (len-1-i/8)
      bits[bits.length - 1 - (idx >> 3)]! |= 1 << (idx & 7)
      const prefix = idx.toString(16).toUpperCase().padStart(PAD, '0')
      if (child.kind === 'value')
        links.push({ Name: prefix + child.key, Hash: child.cid, Tsize: child.tsize })
      else if (child.kind === 'lazy') links.push({ Name: prefix, Hash: child.cid, Tsize: child.tsize })
      else {
        const sub = await child.shard.seal(session)
        links.push({ Name: prefix, Hash: sub.cid, Tsize: sub.size })
      }
    }
    const first = bits.findIndex((b) => b !== 0)
    return await session.putPb(
      new PbNode(shardData(first < 0 ? undefined : bits.subarray(first)), links, this.version),
    )
  }
}

/** Go's `HAMTShardData`: type, the trimmed bitfield (absent when empty), hash type, fanout. */
function shardData(bitfield: Uint8Array | undefined): Uint8Array {
  const head = new FsNode(FsType.HAMTShard, bitfield).encode()
  return Buffer.concat([head, Uint8Array.of(0x28, HASH_MURMUR3, 0x30, 0x80, 0x02)])
}
