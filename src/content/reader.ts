import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { FetchTimeoutError } from '../errors.ts'
import type { EmbeddedNode } from '../node/embedded.ts'
import type { Repo } from '../repo.ts'
import type { BlockSource } from './blocks.ts'

export interface ContentReader {
  store: BlockSource
  close(): Promise<void>
}

export interface ReaderOptions {
  /** Peers to fetch missing blocks from; with none, reads are local only and fail fast. */
  peers?: string[]
  /** How long one missing block may take to arrive, in milliseconds. */
  timeoutMs?: number
}

/**
 * Where content commands read blocks: the local blockstore, or, when peers are given, the
 * embedded node, which fetches missing blocks over bitswap (each within `timeoutMs`) and keeps them.
 */
export async function openReader(repo: Repo, opts: ReaderOptions = {}): Promise<ContentReader> {
  const peers = opts.peers ?? []
  if (peers.length === 0) return { store: repo.blocks, close: async () => {} }
  const { startNode } = await import('../node/embedded.ts')
  const node = await startNode(repo, { peers })
  return {
    store: timedStore(node, opts.timeoutMs ?? repo.config.node.fetch_timeout_ms),
    close: async () => void (await node.stop()),
  }
}

function timedStore(node: EmbeddedNode, ms: number): ReadableStorage {
  return {
    async *get(cid: CID, options: { signal?: AbortSignal } = {}) {
      const timeout = AbortSignal.timeout(ms)
      const signal = options.signal == null ? timeout : AbortSignal.any([options.signal, timeout])
      try {
        yield* node.blockstore.get(cid, { signal })
      } catch (err) {
        if (timeout.aborted) throw new FetchTimeoutError(cid.toString(), ms)
        throw err
      }
    },
  }
}
