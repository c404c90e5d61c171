import type { CID } from 'multiformats/cid'
import type { DagSession } from './dag.ts'
import { VfsNotFoundError } from './errors.ts'
import type { VfsPath } from './path.ts'
import { describeNode, type Found, lookup } from './tree.ts'
import type { VfsEntry } from './types.ts'

/** `ipfs files ls -l`: a directory's entries in link order; a file lists as itself. */
export async function ls(session: DagSession, root: CID, path: VfsPath): Promise<VfsEntry[]> {
  const found = await lookup(session, root, path.segments)
  if (found == null) throw new VfsNotFoundError(path.path)
  if (found.kind === 'file' || found.kind === 'symlink') {
    return [entry(path.segments[path.segments.length - 1] ?? '', found)]
  }
  const out: VfsEntry[] = []
  for await (const link of links(session, found)) {
    out.push(entry(link.name, describeNode(await session.node(link.cid), `${path.path}/${link.name}`)))
  }
  return out
}

async function* links(session: DagSession, dir: Found): AsyncGenerator<{ name: string; cid: CID }> {
  if (dir.decoded.kind === 'pb' && dir.kind === 'directory') {
    for (const l of dir.decoded.node.links) yield { name: l.Name, cid: l.Hash }
    return
  }
  const { dirLinks } = await import('../content/resolve.ts')
  const { decodeNode } = await import('../content/node.ts')
  yield* dirLinks(session.store, decodeNode(dir.node.cid, dir.node.bytes))
}

function entry(name: string, f: Found): VfsEntry {
  return { name, type: f.kind === 'hamt' ? 'directory' : f.kind, size: f.size, cid: f.node.cid }
}
