import type { CID } from 'multiformats/cid'
import { parseIpfsPath } from '../content/cid.ts'
import { InvalidInputError } from '../errors.ts'
import { DEFAULT_CID_VERSION } from './dag.ts'
import { VfsExistsError, VfsNotFoundError } from './errors.ts'
import { joinPath, parseVfsPath, splitLast, type VfsPath } from './path.ts'
import { describeNode, editDir, type Found, lookup } from './tree.ts'
import type { CpOptions, MutationContext, MutationOutcome } from './types.ts'

/**
 * `ipfs files cp`: links an existing DAG at a new path, from `/ipfs/<cid>[/path]` or from another
 * VFS path. Nothing is copied: the destination points at the same blocks. The source's root block
 * must be stored locally (the VFS never waits on the network); the blocks below it need not be.
 */
export async function cp(
  ctx: MutationContext,
  from: string,
  to: VfsPath,
  opts: CpOptions = {},
): Promise<MutationOutcome<{ from: string; to: string; cid: CID }>> {
  const { session } = ctx
  const source = await resolveSource(ctx, from)
  const dest = to.trailingSlash || to.segments.length === 0 ? [...to.segments, source.name] : to.segments
  const { dir, name } = splitLast({ ...to, segments: dest })
  if (name === '')
    throw new InvalidInputError('give the destination a name: copying "/" needs a path like /backup')
  let root = ctx.root
  const dirVersion = opts.cidVersion ?? DEFAULT_CID_VERSION
  if (opts.parents && dir.length > 0)
    root = (await editDir(session, root, dir, () => {}, { parents: true, dirVersion })).cid
  const result = await editDir(
    session,
    root,
    dir,
    async (d) => {
      if ((await d.get(name)) != null) {
        if (!opts.force) throw new VfsExistsError(joinPath(dest), 'use --force to replace it')
        await d.remove(name)
      }
      await d.set(name, source.found.node)
    },
    { dirVersion },
  )
  return { root: result, result: { from, to: joinPath(dest), cid: source.found.node.cid } }
}

async function resolveSource(ctx: MutationContext, from: string): Promise<{ found: Found; name: string }> {
  if (from.startsWith('/ipfs/')) {
    const rest = from.slice('/ipfs/'.length).replace(/\/+$/, '')
    const { cid, segments } = parseIpfsPath(rest)
    const { resolve } = await import('../content/resolve.ts')
    const r = await resolve(ctx.session.store, rest)
    const found = describeNode(await ctx.session.node(r.cid), from)
    return { found, name: segments.length > 0 ? segments[segments.length - 1]! : cid.toString() }
  }
  if (from.startsWith('/ipns/'))
    throw new InvalidInputError('cp from /ipns/ is not supported: resolve the name to /ipfs/<cid> first')
  const p = parseVfsPath(from, 'source path')
  const found = await lookup(ctx.session, ctx.root, p.segments)
  if (found == null) throw new VfsNotFoundError(p.path)
  if (p.segments.length === 0) return { found, name: '' }
  return { found, name: splitLast(p).name }
}
