import { DEFAULT_CHUNK_SIZE } from '../content/cid-options.ts'
import {
  type CidVersion,
  type DagSession,
  type Decoded,
  decodeBlock,
  type Node,
  PbNode,
  sealPb,
  sealRaw,
} from './dag.ts'
import { FsNode, FsType } from './fsnode.ts'
import { DagBuilder, trickleAppend } from './trickle.ts'

/** boxo's DagModifier buffers this much (2 MiB) before it writes a batch of chunks to the DAG. */
const WRITE_BUFFER_BYTES = 1 << 21
/** boxo's `expandSparse` grows a file with zero chunks of this size (small, so they dedupe). */
const SPARSE_CHUNK = 4096

/** Bytes waiting to be written; read from the front, as Go's bytes.Buffer. */
class ByteQueue {
  private parts: Uint8Array[] = []
  length = 0

  push(b: Uint8Array): void {
    if (b.length === 0) return
    this.parts.push(b)
    this.length += b.length
  }

  /** Up to `n` bytes from the front. */
  read(n: number): Uint8Array {
    const out = Buffer.allocUnsafe(Math.min(n, this.length))
    let filled = 0
    while (filled < out.length) {
      const head = this.parts[0]!
      const take = Math.min(head.length, out.length - filled)
      out.set(head.subarray(0, take), filled)
      filled += take
      if (take === head.length) this.parts.shift()
      else this.parts[0] = head.subarray(take)
    }
    this.length -= filled
    return out
  }

  /** Go's fixed-size splitter over what is left. */
  *chunks(size: number): Generator<Uint8Array> {
    while (this.length > 0) yield this.read(size)
  }
}

function* zeroChunks(total: number, size: number): Generator<Uint8Array> {
  for (let left = total; left > 0; left -= size) yield new Uint8Array(Math.min(size, left))
}

/** The file size a node records (Go's `fileSize`). */
function fileSize(n: Decoded): number {
  if (n.kind === 'raw') return n.data.length
  return Number(FsNode.decode(n.node.data ?? new Uint8Array(0)).fileSize())
}

/**
 * A port of boxo's `mod.DagModifier`, the engine of `ipfs files write`: writes are buffered and
 * flushed in batches past 2 MiB; bytes inside the file overwrite its leaves in place, bytes past
 * its end are appended with the trickle layout; seeking past the end pads with 4 KiB zero chunks.
 * Reproducing its exact steps is what makes our CIDs equal Kubo's for the same writes.
 */
export class FileModifier {
  private cur: Decoded
  private writeStart = 0
  private buf: ByteQueue | undefined
  private readonly version: CidVersion

  constructor(
    private readonly session: DagSession,
    from: Decoded,
    /** Raw leaves for new chunks (the file's own setting, or `--raw-leaves`). */
    private readonly rawLeaves: boolean,
    private readonly chunkSize = DEFAULT_CHUNK_SIZE,
  ) {
    this.cur = from.kind === 'pb' ? { ...from, node: from.node.copy() } : from
    this.version = from.cid.version as CidVersion
  }

  size(): number {
    const fs = fileSize(this.cur)
    return this.buf == null ? fs : Math.max(fs, this.buf.length + this.writeStart)
  }

  async write(b: Uint8Array): Promise<void> {
    this.buf ??= new ByteQueue()
    this.buf.push(b)
    if (this.buf.length > WRITE_BUFFER_BYTES) await this.sync()
  }

  async seek(offset: number): Promise<void> {
    await this.sync()
    const size = this.size()
    if (offset > size) await this.expandSparse(offset - size)
    this.writeStart = offset
  }

  async truncate(size: number): Promise<void> {
    await this.sync()
    const real = this.size()
    if (size === real) return
    if (size > real) return await this.expandSparse(size - real)
    const n = await this.dagTruncate(this.cur, size)
    await this.session.put(n)
    this.cur = decodeBlock(n.cid, n.bytes)
  }

  /** The file's final node (Go's `GetNode`): a lone raw leaf under a bare root becomes the file. */
  async finish(): Promise<Node> {
    await this.sync()
    const cur = this.cur
    if (this.rawLeaves && cur.kind === 'pb' && cur.node.links.length === 1) {
      const fsn = FsNode.decode(cur.node.data ?? new Uint8Array(0))
      const child = cur.node.links[0]!.Hash
      if (!fsn.hasMetadata() && child.code === 0x55) return await this.session.node(child)
    }
    const sealed = cur.kind === 'raw' ? sealRaw(cur.data) : sealPb(cur.node)
    await this.session.put(sealed)
    return sealed
  }

  private async sync(): Promise<void> {
    const buf = this.buf
    if (buf == null) return
    const buflen = buf.length
    const fs = fileSize(this.cur)
    if (fs < this.writeStart) await this.expandSparse(this.writeStart - fs)
    const modified = await this.modifyDag(this.cur, this.writeStart, buf)
    this.cur = decodeBlock(modified.cid, modified.bytes)
    if (buf.length > 0) {
      const appended = await this.appendData(this.cur, buf.chunks(this.chunkSize))
      const sealed = sealPb(appended)
      await this.session.put(sealed)
      this.cur = { kind: 'pb', cid: sealed.cid, node: appended }
    }
    this.writeStart += buflen
    this.buf = undefined
  }

  private async expandSparse(size: number): Promise<void> {
    const appended = await this.appendData(this.cur, zeroChunks(size, SPARSE_CHUNK))
    const sealed = sealPb(appended)
    await this.session.put(sealed)
    this.cur = { kind: 'pb', cid: sealed.cid, node: appended }
  }

  private async appendData(n: Decoded, chunks: Iterator<Uint8Array>): Promise<PbNode> {
    if (n.kind === 'pb') {
      return await trickleAppend(
        n.node.copy(),
        new DagBuilder(this.session, chunks, this.version, this.rawLeaves),
      )
    }
    // a raw file that grows becomes a dag-pb file whose first leaf is the old raw block
    const fsn = FsNode.create(FsType.File)
    fsn.addBlockSize(BigInt(n.data.length))
    const root = new PbNode(fsn.encode(), [], this.version)
    root.addLink('', sealRaw(n.data))
    return await trickleAppend(root, new DagBuilder(this.session, chunks, this.version, true))
  }

  /** Writes the buffer over the file from `offset`; returns the new CID of `n`. */
  private async modifyDag(n: Decoded, offset: number, buf: ByteQueue): Promise<Node> {
    if (n.kind === 'raw') {
      const bytes = Buffer.from(n.data)
      const incoming = buf.read(Math.max(0, bytes.length - offset))
      bytes.set(incoming, offset)
      const leaf = sealRaw(bytes)
      await this.session.put(leaf)
      return leaf
    }
    if (n.node.links.length === 0) {
      const fsn = FsNode.decode(n.node.data ?? new Uint8Array(0))
      const data = fsn.data
      if (data != null && offset < data.length) {
        const copy = Buffer.from(data)
        const incoming = buf.read(copy.length - offset)
        copy.set(incoming, offset)
        fsn.data = copy
      }
      return await this.session.putPb(new PbNode(fsn.encode(), [], n.cid.version as CidVersion))
    }
    const node = n.node.copy()
    const fsn = FsNode.decode(node.data ?? new Uint8Array(0))
    let cur = 0
    for (let i = 0; i < fsn.blocksizes.length; i++) {
      const bs = Number(fsn.blocksizes[i]!)
      if (cur + bs > offset) {
        const child = await this.session.getDecoded(node.links[i]!.Hash)
        // as Go: the link's CID changes, its Tsize is left as it was (same length, same size)
        node.links[i]!.Hash = (await this.modifyDag(child, offset - cur, buf)).cid
        if (buf.length === 0) break
        offset = cur + bs
      }
      cur += bs
    }
    return await this.session.putPb(node)
  }

  private async dagTruncate(n: Decoded, size: number): Promise<Node> {
    if (n.kind === 'raw') return sealRaw(n.data.subarray(0, size))
    if (n.node.links.length === 0) {
      const fsn = FsNode.decode(n.node.data ?? new Uint8Array(0))
      if (fsn.data != null) fsn.setData(fsn.data.subarray(0, size))
      // Go's `mdag.NodeWithData`: a CIDv0 node whatever the original was
      return sealPb(new PbNode(fsn.encode(), [], 0))
    }
    const node = n.node.copy()
    const ndata = FsNode.decode(node.data ?? new Uint8Array(0))
    ndata.removeAllBlockSizes()
    let cur = 0
    let end = 0
    let modified: Node | undefined
    for (let i = 0; i < node.links.length; i++) {
      const child = await this.session.getDecoded(node.links[i]!.Hash)
      const childSize = fileSize(child)
      if (size < cur + childSize) {
        modified = await this.dagTruncate(child, size - cur)
        ndata.addBlockSize(BigInt(size - cur))
        end = i
        break
      }
      cur += childSize
      ndata.addBlockSize(BigInt(childSize))
    }
    if (modified == null) throw new Error('truncate: size is past the end of the file')
    await this.session.put(modified)
    node.links = node.links.slice(0, end)
    node.addLink('', modified)
    node.data = ndata.encode()
    return sealPb(node)
  }
}
