import { DEFAULT_CID_VERSION } from './dag.ts'
import { VfsExistsError } from './errors.ts'
import { splitLast, type VfsPath } from './path.ts'
import { describeNode, editDir, emptyDir } from './tree.ts'
import type { MkdirOptions, MutationContext, MutationOutcome } from './types.ts'

/** `ipfs files mkdir [-p]`: an existing directory is an error unless `parents`. */
export async function mkdir(
  ctx: MutationContext,
  path: VfsPath,
  opts: MkdirOptions = {},
): Promise<MutationOutcome<{ path: string }>> {
  const { session } = ctx
  if (path.segments.length === 0) {
    if (opts.parents) return { root: await session.node(ctx.root), result: { path: '/' } }
    throw new VfsExistsError('/', 'the root always exists')
  }
  const { dir, name } = splitLast(path)
  const dirVersion = opts.cidVersion ?? DEFAULT_CID_VERSION
  const root = await editDir(
    session,
    ctx.root,
    dir,
    async (d) => {
      const existing = await d.get(name)
      if (existing != null) {
        const found = describeNode(await session.node(existing), path.path)
        if (opts.parents && (found.kind === 'directory' || found.kind === 'hamt')) return
        throw new VfsExistsError(path.path)
      }
      await d.set(name, await session.putPb(emptyDir(dirVersion)))
    },
    { parents: opts.parents, dirVersion },
  )
  return { root, result: { path: path.path } }
}
