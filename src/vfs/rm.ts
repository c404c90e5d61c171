import { InvalidInputError } from '../errors.ts'
import { DEFAULT_CID_VERSION } from './dag.ts'
import { VfsNotFoundError, VfsTypeError } from './errors.ts'
import { splitLast, type VfsPath } from './path.ts'
import { describeNode, editDir, lookup } from './tree.ts'
import type { MutationContext, MutationOutcome, RmOptions } from './types.ts'

/** `ipfs files rm [-r] [--force]`: unlinks an entry (its blocks stay until gc finds them unreachable). */
export async function rm(
  ctx: MutationContext,
  path: VfsPath,
  opts: RmOptions = {},
): Promise<MutationOutcome<{ path: string; removed: boolean }>> {
  const { session } = ctx
  if (path.segments.length === 0) throw new InvalidInputError('cannot remove the VFS root "/"')
  const { dir, name } = splitLast(path)
  if (opts.force && (await lookup(session, ctx.root, path.segments)) == null) {
    return { root: await session.node(ctx.root), result: { path: path.path, removed: false } }
  }
  const root = await editDir(
    session,
    ctx.root,
    dir,
    async (d) => {
      const child = await d.get(name)
      if (child == null) throw new VfsNotFoundError(path.path)
      const found = describeNode(await session.node(child), path.path)
      if ((found.kind === 'directory' || found.kind === 'hamt') && !opts.recursive && !opts.force)
        throw new VfsTypeError(`${path.path} is a directory: use -r to remove directories`)
      await d.remove(name)
    },
    { dirVersion: DEFAULT_CID_VERSION },
  )
  return { root, result: { path: path.path, removed: true } }
}
