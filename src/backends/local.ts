import { statfs } from 'node:fs/promises'
import type { CID } from 'multiformats/cid'
import { exportCar, importCar } from '../content/car.ts'
import { walkBlocks } from '../content/export.ts'
import type { EmbeddedNode } from '../node/embedded.ts'
import { pacer } from '../pace.ts'
import { LOCAL_BACKEND, type Repo } from '../repo.ts'
import { abortable } from './streams.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, VerifyResult } from './types.ts'

/**
 * The always-present backend: the local blockstore under `<data>/blocks`, served to peers by the
 * embedded Helia node while started. Blocks are shared between pins and gc's roots are the whole pin
 * set, so the local copy of a pin lives exactly as long as the pin: unpin does nothing here (removing
 * the pin is what lets `ipfs-kit gc` reclaim the bytes), and the reconciler never trims `local` as an
 * extra replica (its record would then say "gone" while every block stays on disk).
 */
export class LocalBackend implements Backend {
  readonly type = 'local'
  readonly name = LOCAL_BACKEND
  private readonly repo: Repo
  private readonly ctx: BackendContext
  private node: EmbeddedNode | undefined

  constructor(repo: Repo, ctx: BackendContext) {
    this.repo = repo
    this.ctx = ctx
  }

  /** The running embedded node, if started (the reconciler fetches queued pins through it). */
  get embedded(): EmbeddedNode | undefined {
    return this.node
  }

  async start(): Promise<void> {
    if (this.node != null) return
    const { startNode } = await import('../node/embedded.ts')
    this.node = await startNode(this.repo, { listen: this.repo.config.node.listen, peers: [] })
    const addrs = this.node.libp2p.getMultiaddrs().map((a) => a.toString())
    this.ctx.log(`embedded node ${this.node.libp2p.peerId} listening on ${addrs.join(', ')}`)
    for (const peer of this.repo.config.node.peers) {
      const { multiaddr } = await import('@multiformats/multiaddr')
      this.node.libp2p
        .dial(multiaddr(peer), { signal: AbortSignal.timeout(10_000) })
        .catch((err: Error) => this.ctx.log(`cannot connect to peer ${peer}: ${err.message}`))
    }
  }

  async stop(): Promise<void> {
    const node = this.node
    this.node = undefined
    if (node != null) {
      await node.stop()
      this.ctx.log('embedded node stopped')
    }
  }

  /**
   * Free space only: the bytes held need a count over every block row, which grows with the data and
   * would hold the event loop on every probe (`stat()` still counts them, on demand).
   */
  async health(): Promise<HealthReport> {
    const started = performance.now()
    try {
      const fs = await statfs(this.repo.dir)
      const freeBytes = fs.bavail * fs.bsize
      return {
        status: freeBytes < 256 * 1024 * 1024 ? 'degraded' : 'healthy',
        latencyMs: performance.now() - started,
        freeBytes,
      }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  async has(root: CID): Promise<boolean> {
    return this.repo.blocks.has(root)
  }

  async put(_root: CID, car: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    // an aborted import leaves blocks no pin reaches: gc reclaims them; a corrupt local copy of a
    // block is replaced by the replica's (repair)
    await importCar(this.repo, abortable(car, opts.signal), {
      pinRoots: false,
      requireComplete: true,
      repair: true,
    })
  }

  get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    return abortable(exportCar(this.repo.blocks, root), opts.signal)
  }

  async verify(root: CID): Promise<VerifyResult> {
    let blocks = 0
    let bytes = 0
    // blockstore reads complete synchronously: without pacing, a 20 GB pin would hold the loop for seconds
    const pace = pacer()
    try {
      for await (const block of walkBlocks(this.repo.blocks, root, { verify: true })) {
        blocks++
        bytes += block.length
        await pace()
      }
      return { ok: true, blocks, bytes }
    } catch (err) {
      return { ok: false, blocks, bytes, error: (err as Error).message }
    }
  }

  /** Nothing to do: the blocks stay while the pin does, and gc reclaims them once it is removed. */
  async unpin(_root: CID): Promise<void> {}

  async stat(): Promise<BackendStat> {
    const { bytes } = this.repo.blocks.index.count()
    const fs = await statfs(this.repo.dir)
    return { usedBytes: bytes, freeBytes: fs.bavail * fs.bsize, pins: this.repo.pins.counts().pinned }
  }
}
