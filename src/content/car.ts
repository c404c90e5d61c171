import { CarWriter } from '@ipld/car'
import { asyncIterableReader, createDecoder } from '@ipld/car/decoder'
import type { CID } from 'multiformats/cid'
import { blockKey, MAX_BLOCK_SIZE, matchesCid } from '../blockstore/hashing.ts'
import { InvalidCarError, IpfsKitError } from '../errors.ts'
import { type Repo, recordLocalPin } from '../repo.ts'
import { type BlockSource, blocksGetter, type ReadOptions } from './blocks.ts'
import { links, readDag, walkDag } from './links.ts'

/**
 * Streams a CARv1 of the whole DAG under `root` (`ipfs dag export`), blocks in DAG order, each once.
 * The returned iterable yields the CAR's bytes as they are produced.
 */
export function exportCar(store: BlockSource, root: CID, opts: ReadOptions = {}): AsyncIterable<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const getMany = blocksGetter(store, opts)
  const feed = (async () => {
    try {
      for await (const block of readDag(root, getMany)) await writer.put(block)
    } finally {
      await writer.close()
    }
  })()
  // a failed read ends `out` (the writer closes); its error is raised after the bytes before it
  feed.catch(() => {})
  return (async function* () {
    yield* out
    await feed
  })()
}

export interface CarImportResult {
  roots: CID[]
  blocks: number
  bytes: number
}

/**
 * Imports a CARv1 (`ipfs dag import`): every block must hash to its CID, and when the roots are
 * pinned (Kubo's `--pin-roots`, the default) every root's DAG must be complete; otherwise nothing
 * is stored. Without pinning, a partial DAG is imported as it is, as Kubo does.
 */
export async function importCar(
  repo: Repo,
  source: AsyncIterable<Uint8Array>,
  opts: {
    pinRoots?: boolean
    /** Refuse a CAR that does not hold every root's whole DAG (default: when pinning the roots, as Kubo). */
    requireComplete?: boolean
    /** Replace stored blocks that no longer hash to their CID with the CAR's (healing from a replica). */
    repair?: boolean
  } = {},
): Promise<CarImportResult> {
  const writer = repo.blocks.writer({ repair: opts.repair })
  try {
    const decoder = createDecoder(boundedReader(asyncIterableReader(source)))
    let roots: CID[]
    try {
      roots = (await decoder.header()).roots
    } catch (err) {
      if (err instanceof IpfsKitError) throw err
      throw new InvalidCarError(`not a valid CAR file: ${(err as Error).message}`, { cause: err })
    }
    let blocks = 0
    let bytes = 0
    const linksOf = new Map<string, CID[]>()
    try {
      for await (const block of decoder.blocks()) {
        if (!matchesCid(block.cid, block.bytes)) {
          throw new InvalidCarError(
            `block ${block.cid} in the CAR does not match its CID: the file is corrupt`,
          )
        }
        let blockLinks: CID[]
        try {
          blockLinks = links(block.cid, block.bytes)
        } catch (err) {
          // a block its codec cannot decode is the CAR's fault: refused before anything is stored
          throw new InvalidCarError(`the CAR holds a block that cannot be read: ${(err as Error).message}`, {
            cause: err,
          })
        }
        await writer.put(block.cid, block.bytes)
        linksOf.set(blockKey(block.cid), blockLinks)
        blocks++
        bytes += block.bytes.length
      }
    } catch (err) {
      if (err instanceof IpfsKitError) throw err
      throw new InvalidCarError(`the CAR file is truncated or malformed: ${(err as Error).message}`, {
        cause: err,
      })
    }
    if (opts.requireComplete ?? opts.pinRoots !== false)
      for (const root of roots) assertComplete(repo, linksOf, root)
    await writer.commit()
    if (opts.pinRoots !== false) for (const root of roots) recordLocalPin(repo, root.toString())
    return { roots, blocks, bytes }
  } finally {
    writer.close()
  }
}

/** Fails unless every block under `root` is stored already or arrived in this import. */
function assertComplete(repo: Repo, linksOf: Map<string, CID[]>, root: CID): void {
  const childrenOf = (cid: CID): CID[] => {
    const arrived = linksOf.get(blockKey(cid))
    if (arrived != null) return arrived
    if (repo.blocks.has(cid)) return links(cid, repo.blocks.read(cid))
    throw new InvalidCarError(`the CAR does not hold the whole DAG of root ${root}: block ${cid} is missing`)
  }
  for (const _ of walkDag(root, childrenOf)) {
    // walking is the check
  }
}

type BytesReader = ReturnType<typeof asyncIterableReader>

/**
 * A CAR section (or header) may declare any length; the decoder would buffer that much of the
 * stream before looking at it. Refuse anything past the largest block we store, up front.
 */
function boundedReader(reader: BytesReader): BytesReader {
  return {
    upTo: (length) => reader.upTo(length),
    exactly: (length, seek) => {
      if (length > MAX_BLOCK_SIZE + 128) {
        throw new InvalidCarError(
          `a section of the CAR declares ${length} bytes, more than the largest block allowed (${MAX_BLOCK_SIZE}): the file is corrupt or hostile`,
        )
      }
      return reader.exactly(length, seek)
    },
    seek: (length) => reader.seek(length),
    get pos() {
      return reader.pos
    },
  }
}
