import { statfsSync } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { exportCar, importCar } from '../content/car.ts'
import { walkBlocks } from '../content/export.ts'
import type { EmbeddedNode } from '../node/embedded.ts'
import { LOCAL_BACKEND, type Repo } from '../repo.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, VerifyResult } from './types.ts'

/**
 * The always-present backend: the local blockstore under `<data>/blocks`, served to peers by the
 * embedded Helia node while started. Blocks are shared between pins, so unpin only drops the
 * replica record; `ipfs-kit gc` reclaims the bytes once no pin reaches them.
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

  async health(): Promise<HealthReport> {
    const started = performance.now()
    try {
      const { bytes } = this.repo.blocks.index.count()
      const fs = statfsSync(this.repo.dir)
      const freeBytes = fs.bavail * fs.bsize
      return {
        status: freeBytes < 256 * 1024 * 1024 ? 'degraded' : 'healthy',
        latencyMs: performance.now() - started,
        freeBytes,
        usedBytes: bytes,
      }
    } catch (err) {
      return { status: 'unhealthy', latencyMs: performance.now() - started, error: (err as Error).message }
    }
  }

  async has(root: CID): Promise<boolean> {
    return this.repo.blocks.has(root)
  }

  async put(_root: CID, car: AsyncIterable<Uint8Array>): Promise<void> {
    await importCar(this.repo, car, { pinRoots: false, requireComplete: true })
  }

  get(root: CID): AsyncIterable<Uint8Array> {
    return exportCar(this.repo.blocks, root)
  }

  async verify(root: CID): Promise<VerifyResult> {
    let blocks = 0
    let bytes = 0
    try {
      for await (const block of walkBlocks(this.repo.blocks, root, { verify: true })) {
        blocks++
        bytes += block.length
      }
      return { ok: true, blocks, bytes }
    } catch (err) {
      return { ok: false, blocks, bytes, error: (err as Error).message }
    }
  }

  async unpin(_root: CID): Promise<void> {}

  async stat(): Promise<BackendStat> {
    const { bytes } = this.repo.blocks.index.count()
    const fs = statfsSync(this.repo.dir)
    return { usedBytes: bytes, freeBytes: fs.bavail * fs.bsize, pins: this.repo.pins.counts().pinned }
  }
}
