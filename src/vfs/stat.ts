import type { CID } from 'multiformats/cid'
import type { DagSession } from './dag.ts'
import { VfsNotFoundError } from './errors.ts'
import type { VfsPath } from './path.ts'
import { lookup } from './tree.ts'
import type { VfsStat } from './types.ts'

/** `ipfs files stat`: the CID, type and sizes of a path, from its own block (no DAG walk). */
export async function stat(session: DagSession, root: CID, path: VfsPath): Promise<VfsStat> {
  const found = await lookup(session, root, path.segments)
  if (found == null) throw new VfsNotFoundError(path.path)
  return {
    path: path.path,
    cid: found.node.cid,
    type: found.kind === 'hamt' ? 'directory' : found.kind,
    size: found.size,
    cumulativeSize: found.node.size,
    blocks: found.decoded.kind === 'pb' ? found.decoded.node.links.length : 0,
  }
}
