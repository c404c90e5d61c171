import { type CidVersion, type DagSession, type Node, PbNode, sealPb, sealRaw } from './dag.ts'
import { FsNode, FsType } from './fsnode.ts'

/** boxo's `helpers.DefaultLinksPerBlock`: leaves directly under a trickle node. */
export const TRICKLE_MAX_LINKS = 174
/** boxo's trickle `depthRepeat`: subtrees of each depth. */
const DEPTH_REPEAT = 4

/**
 * Go's `helpers.DagBuilderHelper` over a source of chunks: makes leaves (raw, or dag-pb of type
 * Raw as trickle does), stores every child it links, and knows when the chunks run out.
 */
export class DagBuilder {
  private nextChunk: Uint8Array | undefined
  private primed = false

  constructor(
    readonly session: DagSession,
    private readonly chunks: Iterator<Uint8Array>,
    readonly version: CidVersion,
    readonly rawLeaves: boolean,
    readonly maxLinks = TRICKLE_MAX_LINKS,
  ) {}

  private prime(): void {
    if (this.primed) return
    this.primed = true
    const r = this.chunks.next()
    this.nextChunk = r.done === true || r.value.length === 0 ? undefined : r.value
  }

  done(): boolean {
    this.prime()
    return this.nextChunk == null
  }

  /** Next leaf and the bytes of file it holds (Go's `NewLeafDataNode(TRaw)`). */
  newLeaf(): { node: Node; size: bigint } {
    this.prime()
    const data = this.nextChunk!
    this.primed = false
    if (this.rawLeaves) return { node: sealRaw(data), size: BigInt(data.length) }
    const fsn = FsNode.create(FsType.Raw)
    fsn.setData(data)
    return { node: sealPb(new PbNode(fsn.encode(), [], this.version)), size: BigInt(data.length) }
  }

  newFsDag(): FsDag {
    return new FsDag(new PbNode(undefined, [], this.version), FsNode.create(FsType.File))
  }
}

/** Go's `helpers.FSNodeOverDag`: a dag-pb node and its UnixFS data, kept in step. */
export class FsDag {
  constructor(
    readonly dag: PbNode,
    readonly file: FsNode,
  ) {}

  static from(node: PbNode): FsDag {
    return new FsDag(node, FsNode.decode(node.data ?? new Uint8Array(0)))
  }

  numChildren(): number {
    return this.file.blocksizes.length
  }

  async addChild(child: Node, fileSize: bigint, db: DagBuilder): Promise<void> {
    this.dag.links.push({ Name: '', Hash: child.cid, Tsize: child.size })
    this.file.addBlockSize(fileSize)
    await db.session.put(child)
  }

  removeChild(index: number): void {
    this.file.removeBlockSize(index)
    this.dag.links.splice(index, 1)
  }

  commit(): PbNode {
    this.dag.data = this.file.encode()
    return this.dag
  }

  async child(index: number, db: DagBuilder): Promise<FsDag> {
    const d = await db.session.getDecoded(this.dag.links[index]!.Hash)
    if (d.kind !== 'pb') throw new Error(`trickle child ${d.cid} is not a dag-pb node`)
    return FsDag.from(d.node)
  }
}

async function fillNodeLayer(db: DagBuilder, node: FsDag): Promise<void> {
  while (node.numChildren() < db.maxLinks && !db.done()) {
    const leaf = db.newLeaf()
    await node.addChild(leaf.node, leaf.size, db)
  }
  node.commit()
}

async function fillTrickleRec(
  db: DagBuilder,
  node: FsDag,
  maxDepth: number,
): Promise<{ node: Node; size: bigint }> {
  await fillNodeLayer(db, node)
  for (let depth = 1; maxDepth === -1 || depth < maxDepth; depth++) {
    if (db.done()) break
    for (let r = 0; r < DEPTH_REPEAT && !db.done(); r++) {
      const child = await fillTrickleRec(db, db.newFsDag(), depth)
      await node.addChild(child.node, child.size, db)
    }
  }
  return { node: sealPb(node.commit()), size: node.file.fileSize() }
}

function depthInfo(node: FsDag, maxLinks: number): { depth: number; repeat: number } {
  const n = node.numChildren()
  if (n < maxLinks) return { depth: 0, repeat: 0 }
  const nonLeaf = n - maxLinks
  return { depth: Math.floor(nonLeaf / DEPTH_REPEAT) + 1, repeat: nonLeaf % DEPTH_REPEAT }
}

/** boxo's `trickle.Append`: appends the builder's chunks to the trickle file `base`. */
export async function trickleAppend(base: PbNode, db: DagBuilder): Promise<PbNode> {
  const fsn = FsDag.from(base)
  let { depth, repeat } = depthInfo(fsn, db.maxLinks)
  if (depth === 0) {
    await fillNodeLayer(db, fsn)
    if (db.done()) return fsn.commit()
    depth++
  }
  await appendFillLastChild(fsn, depth - 1, repeat, db)
  if (!db.done()) depth++
  for (let i = depth; !db.done(); i++) {
    for (let j = 0; j < DEPTH_REPEAT && !db.done(); j++) {
      const child = await fillTrickleRec(db, db.newFsDag(), i)
      await fsn.addChild(child.node, child.size, db)
    }
  }
  return fsn.commit()
}

async function appendFillLastChild(fsn: FsDag, depth: number, repeat: number, db: DagBuilder): Promise<void> {
  if (fsn.numChildren() <= db.maxLinks) return
  const last = fsn.numChildren() - 1
  const lastChild = await fsn.child(last, db)
  const filled = await appendRec(lastChild, db, depth - 1)
  fsn.removeChild(last)
  await fsn.addChild(sealPb(filled.commit()), filled.file.fileSize(), db)
  if (repeat !== 0) {
    for (; repeat < DEPTH_REPEAT && !db.done(); repeat++) {
      const child = await fillTrickleRec(db, db.newFsDag(), depth)
      await fsn.addChild(child.node, child.size, db)
    }
  }
}

async function appendRec(fsn: FsDag, db: DagBuilder, maxDepth: number): Promise<FsDag> {
  if (maxDepth === 0 || db.done()) return fsn
  let { depth, repeat } = depthInfo(fsn, db.maxLinks)
  if (depth === 0) {
    await fillNodeLayer(db, fsn)
    depth++
  }
  if (depth === maxDepth) return fsn
  await appendFillLastChild(fsn, depth, repeat, db)
  if (!db.done()) depth++
  for (let i = depth; i < maxDepth && !db.done(); i++) {
    for (let j = 0; j < DEPTH_REPEAT && !db.done(); j++) {
      const child = await fillTrickleRec(db, db.newFsDag(), i)
      await fsn.addChild(child.node, child.size, db)
    }
  }
  return fsn
}
