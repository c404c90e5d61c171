import type { CID } from 'multiformats/cid'

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy' | 'unknown'

/** The result of one read-only health probe. */
export interface HealthReport {
  status: HealthStatus
  /** How long the probe took. */
  latencyMs: number
  freeBytes?: number
  usedBytes?: number
  error?: string
}

export interface BackendStat {
  usedBytes: number
  freeBytes?: number
  /** Pin roots this backend holds. */
  pins: number
}

/** The outcome of reading a replica back and re-hashing every block. */
export interface VerifyResult {
  ok: boolean
  blocks: number
  bytes: number
  /** Why it failed: a missing block, a block whose bytes do not hash to its CID, an unreadable file. */
  error?: string
  /**
   * What the backend says of a good replica beyond ok, e.g. a cluster's "pinned on 2 of 2 cluster
   * peers"; starting with "degraded: " when the replica holds but with less redundancy than it was given.
   */
  detail?: string
}

/** What `put` is told of the pin besides its DAG. */
export interface PutOptions {
  signal?: AbortSignal
  /** The pin's name (a cluster or pinning service shows it). */
  name?: string
  /** The pin's effective replication policy, for a backend that replicates inside itself (a cluster). */
  replication?: { min: number; max: number }
}

/**
 * A storage backend (IPFS Cluster's IPFSConnector, widened): one interface for the embedded node,
 * a directory of CARs, Kubo, a cluster, S3 or a pinning service. Content moves between backends as
 * CARv1 streams of a whole DAG. `health` is a read-only probe: it never starts or repairs anything.
 */
export interface Backend {
  readonly name: string
  readonly type: string
  /**
   * The failure domain the config gives it (a rack, a host, a region): replicas in one domain count
   * once toward a pin's minimum while another domain is usable. Undefined: a domain of its own.
   */
  failureDomain?: string
  start(): Promise<void>
  stop(): Promise<void>
  health(signal?: AbortSignal): Promise<HealthReport>
  /** True if the backend claims to hold the whole DAG under `root` (cheap; not a verification). */
  has(root: CID): Promise<boolean>
  /**
   * Stores and pins the DAG carried by a CAR stream whose root is `root`. When `signal` aborts (the
   * pin was removed, the daemon stops) it stops, leaves nothing behind, and rejects with an AbortError.
   */
  put(root: CID, car: AsyncIterable<Uint8Array>, opts?: PutOptions): Promise<void>
  /** The DAG under `root` as a CARv1 stream; ends with an AbortError when `signal` aborts. */
  get(root: CID, opts?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /** Reads the DAG back and re-hashes every block, yielding to the event loop as it goes. */
  verify(root: CID): Promise<VerifyResult>
  /** Drops the pin (and, where the backend has no shared blocks, the data). */
  unpin(root: CID): Promise<void>
  stat(): Promise<BackendStat>
  /**
   * Removes what no pin wants: every DAG whose root `wanted` rejects, and temp files of writers that
   * are gone. Backends without their own files to sweep (`local`: gc reclaims its blocks) omit it.
   */
  sweep?(wanted: (root: string) => boolean, opts?: { signal?: AbortSignal }): Promise<SweptItem[]>
}

/** One thing a sweep removed from a backend. */
export interface SweptItem {
  /** The file or object name on the backend. */
  name: string
  /** The DAG root it held, when the name says. */
  root?: string
  kind: 'orphan' | 'temp'
  bytes: number
}

/** Everything a backend factory gets: its validated config entry and where it may keep files. */
export interface BackendContext {
  dataDir: string
  /** Append a line to `<data>/logs/<name>.log` (rotated). */
  log: (line: string) => void
  /**
   * The embedded node's addresses (multiaddrs ending in /p2p/<id>), for a backend that asks a remote
   * service to fetch content from us (a pinning service's `origins`). Empty while the node is down.
   */
  origins?: () => string[]
}
