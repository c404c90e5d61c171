import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { InvalidInputError } from '../errors.ts'

/** What a block is, as the content verbs see it. */
export type ContentNode =
  | { kind: 'raw'; cid: CID; data: Uint8Array }
  | {
      kind: 'file' | 'symlink' | 'directory' | 'hamt'
      cid: CID
      node: dagPb.PBNode
      unixfs: UnixFS
    }
  | { kind: 'object'; cid: CID; bytes: Uint8Array }

/** Decodes a block into a content node; dag-pb without UnixFS data, dag-cbor and the like are objects. */
export function decodeNode(cid: CID, bytes: Uint8Array): ContentNode {
  if (cid.code === raw.code) return { kind: 'raw', cid, data: bytes }
  if (cid.code !== dagPb.code) return { kind: 'object', cid, bytes }
  let node: dagPb.PBNode
  let unixfs: UnixFS
  try {
    node = dagPb.decode(bytes)
    if (node.Data == null) return { kind: 'object', cid, bytes }
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw new InvalidInputError(`block ${cid} is not valid dag-pb/UnixFS: ${(err as Error).message}`, {
      cause: err,
    })
  }
  switch (unixfs.type) {
    case 'file':
    case 'raw':
      return { kind: 'file', cid, node, unixfs }
    case 'symlink':
      return { kind: 'symlink', cid, node, unixfs }
    case 'directory':
      return { kind: 'directory', cid, node, unixfs }
    case 'hamt-sharded-directory':
      checkShard(cid, unixfs)
      return { kind: 'hamt', cid, node, unixfs }
    default:
      return { kind: 'object', cid, bytes }
  }
}

/** The bytes of the file a node stands for (0 for directories and objects), as `ipfs files stat`. */
export function fileSize(n: ContentNode): bigint {
  if (n.kind === 'raw') return BigInt(n.data.length)
  if (n.kind === 'file' || n.kind === 'symlink') return n.unixfs.fileSize()
  return 0n
}

/**
 * A HAMT shard's parameters are checked before anything walks it, as Kubo (boxo) does: a fanout
 * that is not a power of two from 8 to 1024 made ipfs-unixfs-exporter loop forever (0, 1), throw a
 * TypeError (3) or allocate without bound (2^40).
 */
function checkShard(cid: CID, unixfs: UnixFS): void {
  const fanout = unixfs.fanout
  if (fanout == null || fanout < 8n || fanout > 1024n || (fanout & (fanout - 1n)) !== 0n) {
    throw new InvalidInputError(
      `HAMT directory ${cid} has fanout ${fanout ?? 'none'}: it must be a power of two from 8 to 1024`,
    )
  }
  // (its hashType is not checked: ipfs-unixfs's unmarshal does not read the field back)
}
