import type { ImporterOptions } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { InvalidInputError } from '../errors.ts'

/** Kubo's default chunk size (`size-262144`). */
export const DEFAULT_CHUNK_SIZE = 262_144
/** Kubo refuses chunks above 1 MiB + overhead; so do we (a block must fit bitswap's limit). */
export const MAX_CHUNK_SIZE = 1_048_576
/** Kubo's balanced DAG width. */
export const MAX_CHILDREN_PER_NODE = 174

/** The flags of `ipfs add` that decide a CID. */
export interface CidOptions {
  cidVersion?: 0 | 1
  /** Defaults to true with CIDv1 and false with CIDv0, as in Kubo. */
  rawLeaves?: boolean
  /** `size-N`, as Kubo's `--chunker`. */
  chunker?: string
  wrapWithDirectory?: boolean
}

/** Parses Kubo's `--chunker` value; only fixed-size chunking is offered (rabin/buzhash CIDs differ). */
export function parseChunker(spec: string | undefined): number {
  if (spec == null || spec === 'default') return DEFAULT_CHUNK_SIZE
  const m = /^size-(\d+)$/.exec(spec)
  if (m == null) {
    throw new InvalidInputError(`unsupported chunker "${spec}": use size-N (for example size-262144)`)
  }
  const n = Number(m[1])
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CHUNK_SIZE) {
    throw new InvalidInputError(`chunker size ${m[1]} is out of range: use 1 to ${MAX_CHUNK_SIZE} bytes`)
  }
  return n
}

/**
 * The importer options that reproduce Kubo's `ipfs add` CIDs byte for byte: CIDv0, dag-pb leaves,
 * 256 KiB fixed chunks, balanced DAG of 174 links, links-first field order, HAMT directories past
 * 256 KiB of links; with `--cid-version 1`, raw leaves. (@helia/unixfs defaults differ.)
 */
export function kuboImporterOptions(opts: CidOptions): ImporterOptions {
  const cidVersion = opts.cidVersion ?? 0
  if (cidVersion !== 0 && cidVersion !== 1) {
    throw new InvalidInputError(`invalid --cid-version ${String(cidVersion)}: use 0 or 1`)
  }
  // With CIDv0 and --raw-leaves, leaves are CIDv1 raw blocks under CIDv0 dag-pb parents, as in Kubo.
  const rawLeaves = opts.rawLeaves ?? cidVersion === 1
  return {
    profile: 'unixfs-v0-2015',
    cidVersion,
    rawLeaves,
    leafType: 'file',
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize: parseChunker(opts.chunker) }),
    layout: balanced({ maxChildrenPerNode: MAX_CHILDREN_PER_NODE }),
    shardSplitThresholdBytes: 262_144,
    shardSplitStrategy: 'links-bytes',
    shardFanoutBits: 8,
    fieldOrder: 'links-first',
    wrapWithDirectory: opts.wrapWithDirectory ?? false,
    blockWriteConcurrency: 16,
  }
}
