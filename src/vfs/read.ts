import type { CID } from 'multiformats/cid'
import { InvalidInputError } from '../errors.ts'
import type { DagSession } from './dag.ts'
import { VfsNotFoundError, VfsTypeError } from './errors.ts'
import type { VfsPath } from './path.ts'
import { lookup } from './tree.ts'
import type { ReadOptions } from './types.ts'

/** `ipfs files read [--offset] [--count]`: streams a file's bytes with the content core's reader. */
export async function* read(
  session: DagSession,
  root: CID,
  path: VfsPath,
  opts: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  for (const [k, v] of Object.entries(opts)) {
    if (v != null && (!Number.isSafeInteger(v) || (v as number) < 0))
      throw new InvalidInputError(`read ${k} must be a whole number >= 0`)
  }
  const found = await lookup(session, root, path.segments)
  if (found == null) throw new VfsNotFoundError(path.path)
  if (found.kind !== 'file')
    throw new VfsTypeError(
      `${path.path} is a ${found.kind === 'hamt' ? 'directory' : found.kind}, not a file`,
    )
  if (opts.length === 0) return
  const { readFile } = await import('../content/cat.ts')
  const { decodeNode } = await import('../content/node.ts')
  yield* readFile(session.store, decodeNode(found.node.cid, found.node.bytes), {
    offset: opts.offset ?? 0,
    length: opts.length,
  })
}
