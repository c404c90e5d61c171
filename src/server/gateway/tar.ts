import { posix } from 'node:path'
import { type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { pack } from 'tar-stream'
import { blockKey } from '../../blockstore/hashing.ts'
import { readFile } from '../../content/export.ts'
import { type ContentNode, fileSize } from '../../content/node.ts'
import { type DirLink, dirEntries } from '../../content/resolve.ts'
import { IpfsKitError } from '../../errors.ts'

/** One tar member: its path under `<cid>/`, and its node (none for a raw block left unread). */
interface Member {
  name: string
  cid: CID
  node?: ContentNode
}

/**
 * The members of a UnixFS tree under `<cid>/`, depth first, parents first, each checked as it is
 * reached: a name that, joined to its parent, leaves the root is refused, as Kubo does. Only the
 * directories on the way from the root are held, never the tree: a tree of any size streams in
 * bounded memory. With `read` false, a raw block (a file) is not read at all: its name is all a
 * check needs.
 */
async function* members(
  store: ReadableStorage,
  root: ContentNode,
  signal: AbortSignal,
  read: boolean,
): AsyncGenerator<Member> {
  const top = root.cid.toString()
  async function* visit(m: Member & { node: ContentNode }, above: string[]): AsyncGenerator<Member> {
    yield m
    const n = m.node
    if (n.kind !== 'directory' && n.kind !== 'hamt') return
    const key = blockKey(n.cid)
    // hash links cannot make a cycle, but a block stored under a CID it does not hash to can
    if (above.includes(key)) throw new IpfsKitError('ERR_INVALID_INPUT', `directory ${n.cid} contains itself`)
    const inside = [...above, key]
    // the member's whole path (posix.join normalizes it)
    const nameOf = (link: DirLink) => posix.join(m.name, link.name)
    const check = (link: DirLink) => {
      const name = nameOf(link)
      if (name === m.name || !name.startsWith(`${top}/`)) {
        throw new IpfsKitError(
          'ERR_INVALID_INPUT',
          `entry "${link.name}" under ${m.name} would leave the root of the tar`,
        )
      }
    }
    // a raw block is a file: unless its bytes are wanted, it need not be read to be named
    const unread = (link: DirLink) => !read && link.cid.code === raw.code
    for await (const { link, node } of dirEntries(store, n, { signal }, { check, unread })) {
      if (node == null) yield { name: nameOf(link), cid: link.cid }
      else yield* visit({ name: nameOf(link), cid: link.cid, node }, inside)
    }
  }
  yield* visit({ name: top, cid: root.cid, node: root }, [])
}

/**
 * Walks the whole tree once, reading only its directories, so that a name that would leave the
 * root is refused (400) before a byte of the tar is sent. Nothing of the tree is kept.
 */
export async function checkTar(
  store: ReadableStorage,
  root: ContentNode,
  signal: AbortSignal,
): Promise<void> {
  for await (const _ of members(store, root, signal, false));
}

/** Streams the tree as a tar: one member at a time, file bytes straight from the blockstore. */
export function tarStream(store: ReadableStorage, root: ContentNode, signal: AbortSignal): Readable {
  const tar = pack()
  const out = new Coalesce()
  void (async () => {
    try {
      for await (const { name, node } of members(store, root, signal, true)) {
        if (node == null) continue
        if (node.kind === 'directory' || node.kind === 'hamt') {
          tar.entry({ name, type: 'directory', mode: 0o755 })
        } else if (node.kind === 'symlink') {
          const target = Buffer.from(node.unixfs.data ?? new Uint8Array()).toString('utf8')
          tar.entry({ name, type: 'symlink', linkname: target })
        } else if (node.kind === 'file' || node.kind === 'raw') {
          const size = Number(fileSize(node))
          const inline = inlineBytes(node)
          if (inline?.length === size) {
            // a one-block file: its bytes are at hand; the entry's callback waits for the reader
            await new Promise<void>((resolve, reject) =>
              tar.entry({ name, type: 'file', size, mode: 0o644 }, inline, (err) =>
                err ? reject(err) : resolve(),
              ),
            )
          } else {
            const member = tar.entry({ name, type: 'file', size, mode: 0o644 })
            await pipeline(readFile(store, node, { signal }), member)
          }
        }
      }
      tar.finalize()
    } catch (err) {
      tar.destroy(err as Error)
    }
  })()
  tar.pipe(out)
  tar.once('error', (err) => out.destroy(err))
  return out
}

/** A file node's bytes when the node holds them all (no links), as a Buffer over the same memory. */
function inlineBytes(node: ContentNode): Buffer | undefined {
  const bytes =
    node.kind === 'raw'
      ? node.data
      : node.kind === 'file' && node.node.Links.length === 0
        ? (node.unixfs.data ?? new Uint8Array(0))
        : undefined
  return bytes == null ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Bytes gathered before a write to the socket. */
const COALESCE_BYTES = 64 << 10

/**
 * Gathers the tar's many small pieces (a 512-byte header, a few bytes of a small file, its padding)
 * into writes of up to COALESCE_BYTES: one socket write per piece made a tree of 60,000 small files
 * spend most of its time in writev(2). What has gathered is sent at the latest when the event loop
 * turns, so a pause upstream never holds bytes back.
 */
class Coalesce extends Transform {
  private parts: Buffer[] = []
  private bytes = 0
  private scheduled = false

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.parts.push(chunk)
    this.bytes += chunk.length
    if (this.bytes >= COALESCE_BYTES) this.send()
    else if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => {
        this.scheduled = false
        this.send()
      })
    }
    done()
  }

  override _flush(done: (err?: Error | null) => void): void {
    this.send()
    done()
  }

  private send(): void {
    if (this.bytes === 0) return
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes))
    this.parts = []
    this.bytes = 0
  }
}
