import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import { IpfsKitError } from '../errors.ts'
import type { Repo } from '../repo.ts'
import { loadOrCreateIdentity } from './identity.ts'

export interface NodeOptions {
  /** Listen addresses; default is an ephemeral loopback port (a client node). */
  listen?: string[]
  /** Peers to dial at start, to fetch from and serve to over bitswap. */
  peers?: string[]
  /** How long a dial may take, in milliseconds. */
  dialTimeoutMs?: number
}

export type EmbeddedNode = Awaited<ReturnType<typeof startNode>>

/**
 * Starts the embedded Helia node on the repo's blockstore. It speaks TCP+noise+yamux with
 * identify and bitswap, and nothing else: no bootstrap list, DHT, mDNS, UPnP, relay, delegated
 * routers or HTTP gateways, so it never reaches the public network unless given peers to dial.
 */
export async function startNode(repo: Repo, opts: NodeOptions = {}) {
  const privateKey = await loadOrCreateIdentity(repo.dir)
  const helia = withBitswap(
    withLibp2pLight(createHeliaLight({ blockstore: repo.blocks, datastore: new MemoryDatastore() }), {
      privateKey,
      addresses: { listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      services: { identify: identify() },
    }),
  )
  try {
    await helia.start()
  } catch (err) {
    throw new IpfsKitError(
      'ERR_NODE_START',
      `the embedded node could not start (${(err as Error).message}): check node.listen in config.json`,
      { cause: err },
    )
  }
  for (const peer of opts.peers ?? []) {
    try {
      await helia.libp2p.dial(multiaddr(peer), { signal: AbortSignal.timeout(opts.dialTimeoutMs ?? 10_000) })
    } catch (err) {
      await helia.stop()
      throw new IpfsKitError('ERR_DIAL', `cannot connect to peer ${peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }
  return helia
}
