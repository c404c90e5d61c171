import { InvalidInputError, PayloadTooLargeError } from '../errors.ts'
import { DEFAULT_CID_VERSION, type Decoded, decodeBlock, PbNode } from './dag.ts'
import { VfsNotFoundError, VfsTypeError } from './errors.ts'
import { emptyFileData } from './fsnode.ts'
import { FileModifier } from './modifier.ts'
import { joinPath, splitLast, type VfsPath } from './path.ts'
import { editDir, lookup } from './tree.ts'
import type { MutationContext, MutationOutcome, WriteOptions } from './types.ts'

/** Go's io.Copy buffer: Kubo's `files write` hands the file its input 32 KiB at a time. */
const COPY_BUFFER = 32 * 1024

/** What a write reports: the file's new CID and size. */
export interface WriteResult {
  path: string
  cid: import('multiformats/cid').CID
  size: number
}

/**
 * `ipfs files write`: creates or modifies a file with Kubo's MFS steps (truncate, seek, buffered
 * writes into a trickle DAG), then links it into its directory and rewrites the directories above.
 */
export async function write(
  ctx: MutationContext,
  path: VfsPath,
  source: AsyncIterable<Uint8Array> | Uint8Array,
  opts: WriteOptions = {},
): Promise<MutationOutcome<WriteResult>> {
  if (path.trailingSlash)
    throw new InvalidInputError(`${path.path}/ names a directory: give a file path to write`)
  const { dir, name } = splitLast(path)
  const { session } = ctx
  const offset = opts.offset ?? 0
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new InvalidInputError('the write offset must be a whole number >= 0')
  if (opts.count != null && (!Number.isSafeInteger(opts.count) || opts.count < 0))
    throw new InvalidInputError('the write count must be a whole number >= 0')
  let root = ctx.root
  if (opts.parents && dir.length > 0) {
    root = (
      await editDir(session, root, dir, () => {}, {
        parents: true,
        dirVersion: opts.cidVersion ?? DEFAULT_CID_VERSION,
      })
    ).cid
  }
  const existing = await lookup(session, root, path.segments)
  let from: Decoded
  let created: import('./dag.ts').Node | undefined
  if (existing != null) {
    if (existing.kind === 'directory' || existing.kind === 'hamt')
      throw new VfsTypeError(`${path.path} is a directory, not a file`)
    if (existing.kind === 'symlink')
      throw new VfsTypeError(`${path.path} is a symlink: writing through symlinks is not supported`)
    from = existing.decoded
  } else {
    if (!opts.create) throw new VfsNotFoundError(`${path.path} (use --create to make it)`)
    const parent = await lookup(session, root, dir)
    if (parent == null) throw new VfsNotFoundError(`${joinPath(dir)} (use --parents to make it)`)
    if (parent.kind !== 'directory' && parent.kind !== 'hamt')
      throw new VfsTypeError(`${joinPath(dir)} is not a directory`)
    // as Kubo 0.41: a new file is CIDv0 (Import.CidVersion's default) unless --cid-version says otherwise
    const version = opts.cidVersion ?? DEFAULT_CID_VERSION
    created = await session.putPb(new PbNode(emptyFileData(), [], version))
    from = decodeBlock(created.cid, created.bytes)
  }
  const rawLeaves = opts.rawLeaves ?? from.cid.version > 0
  const file = new FileModifier(session, from, rawLeaves)
  if (opts.truncate) await file.truncate(0)
  // an offset past the end pads with zeros (as Kubo); a caller that bounds uploads bounds this too,
  // or one request with offset 2^53 would have the server write petabytes of zeros
  const padding = offset - file.size()
  if (opts.maxPadding != null && padding > opts.maxPadding)
    throw new PayloadTooLargeError(
      `offset ${offset} is ${padding} bytes past the end of ${path.path} (${file.size()} bytes): the zeros between would exceed the limit of ${opts.maxPadding} bytes`,
    )
  await file.seek(offset)
  for await (const piece of copyChunks(source, opts.count)) await file.write(piece)
  const node = await file.finish()
  const newRoot = await editDir(
    session,
    root,
    dir,
    async (d) => {
      // as MFS: a new file is linked empty first, then replaced by what was written (the two steps
      // can differ when they take a directory across the sharding threshold)
      if (created != null) await d.set(name, created)
      await d.set(name, node)
    },
    {
      dirVersion: DEFAULT_CID_VERSION,
    },
  )
  return { root: newRoot, result: { path: path.path, cid: node.cid, size: file.size() } }
}

/**
 * The input in the pieces Go's io.Copy would hand over from a file: 32 KiB (or `count` when
 * smaller), the last one short. The DAG's shape depends on these sizes (the 2 MiB write buffer
 * flushes on the first write past it), so the same bytes always give the same CID.
 */
export async function* copyChunks(
  source: AsyncIterable<Uint8Array> | Uint8Array,
  count?: number,
): AsyncGenerator<Uint8Array> {
  const size = count == null ? COPY_BUFFER : Math.min(COPY_BUFFER, Math.max(count, 1))
  let left = count ?? Number.POSITIVE_INFINITY
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  const input = source instanceof Uint8Array ? [source] : source
  for await (const chunk of input) {
    let c = chunk
    while (c.length > 0 && left > 0) {
      const want = Math.min(size - pendingBytes, left)
      const take = c.subarray(0, want)
      c = c.subarray(take.length)
      pending.push(take)
      pendingBytes += take.length
      left -= take.length
      if (pendingBytes === size || left === 0) {
        yield pending.length === 1 ? pending[0]! : Buffer.concat(pending)
        pending = []
        pendingBytes = 0
      }
    }
    if (left === 0) break
  }
  if (pendingBytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending)
}
