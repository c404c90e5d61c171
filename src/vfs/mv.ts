import { InvalidInputError } from '../errors.ts'
import { DEFAULT_CID_VERSION } from './dag.ts'
import { VfsExistsError, VfsNotFoundError, VfsTypeError } from './errors.ts'
import { joinPath, splitLast, type VfsPath } from './path.ts'
import { editDir, lookup } from './tree.ts'
import type { MutationContext, MutationOutcome } from './types.ts'

/**
 * `ipfs files mv`: a destination ending in "/" or naming an existing directory receives the entry
 * under its own name; an existing file there is replaced. No data moves: only links change.
 */
export async function mv(
  ctx: MutationContext,
  from: VfsPath,
  to: VfsPath,
): Promise<MutationOutcome<{ from: string; to: string }>> {
  const { session } = ctx
  if (from.segments.length === 0) throw new InvalidInputError('cannot move the VFS root "/"')
  const src = splitLast(from)
  let dstDir = to.trailingSlash || to.segments.length === 0 ? to.segments : to.segments.slice(0, -1)
  let dstName = to.trailingSlash || to.segments.length === 0 ? src.name : to.segments[to.segments.length - 1]!
  const node = await lookup(session, ctx.root, from.segments)
  if (node == null) throw new VfsNotFoundError(from.path)
  const target = await lookup(session, ctx.root, [...dstDir, dstName])
  if (target != null && (target.kind === 'directory' || target.kind === 'hamt')) {
    dstDir = [...dstDir, dstName]
    dstName = src.name
  }
  const dest = [...dstDir, dstName]
  if (dest.length > from.segments.length && from.segments.every((s, i) => dest[i] === s))
    throw new InvalidInputError(`cannot move ${from.path} into itself (${joinPath(dest)})`)
  if (dest.length === from.segments.length && dest.every((s, i) => from.segments[i] === s)) {
    return { root: await session.node(ctx.root), result: { from: from.path, to: joinPath(dest) } }
  }
  let root = await editDir(
    session,
    ctx.root,
    dstDir,
    async (d, where) => {
      const existing = await d.get(dstName)
      if (existing != null) {
        const found = await lookup(session, existing, [])
        if (found?.kind !== 'file' && found?.kind !== 'symlink')
          throw new VfsExistsError(joinPath(dest), `${where} already holds a directory of that name`)
        // as MFS: the file in the way is unlinked, then the entry added
        await d.remove(dstName)
      }
      await d.set(dstName, node.node)
    },
    { dirVersion: DEFAULT_CID_VERSION },
  )
  root = await editDir(
    session,
    root.cid,
    src.dir,
    async (d) => {
      if (!(await d.remove(src.name))) throw new VfsTypeError(`${from.path} vanished during the move`)
    },
    { dirVersion: DEFAULT_CID_VERSION },
  )
  return { root, result: { from: from.path, to: joinPath(dest) } }
}
