import { posix } from 'node:path'
import { PassThrough } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { exporter, type ReadableStorage, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import { pack } from 'tar-stream'
import { cat } from '../../content/export.ts'
import { IpfsKitError } from '../../errors.ts'

interface TarItem {
  name: string
  entry: UnixFSEntry
}

/**
 * The entries of a UnixFS tree as tar members under `<cid>/`. Every name is checked before a byte
 * is sent: a name that, joined to its parent, leaves the root is refused (400), as Kubo does.
 */
export async function tarItems(
  store: ReadableStorage,
  root: UnixFSEntry,
  signal: AbortSignal,
): Promise<TarItem[]> {
  const top = root.cid.toString()
  const items: TarItem[] = []
  const visit = async (entry: UnixFSEntry, name: string): Promise<void> => {
    items.push({ name, entry })
    if (entry.type !== 'directory') return
    for await (const child of entry.entries({ signal })) {
      const childName = posix.normalize(posix.join(name, child.name))
      if (childName !== top && !childName.startsWith(`${top}/`)) {
        throw new IpfsKitError(
          'ERR_INVALID_INPUT',
          `entry "${child.name}" under ${name} would leave the root of the tar`,
        )
      }
      await visit(await exporter(child.cid, store, { signal }), childName)
    }
  }
  await visit(root, top)
  return items
}

/** Streams the items as a tar: file bytes flow from the blockstore one member at a time. */
export function tarStream(store: ReadableStorage, items: TarItem[], signal: AbortSignal): PassThrough {
  const tar = pack()
  const out = new PassThrough()
  void (async () => {
    try {
      for (const { name, entry } of items) {
        if (entry.type === 'directory') {
          tar.entry({ name, type: 'directory', mode: 0o755 })
        } else if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
          const target = Buffer.from(entry.unixfs.data ?? new Uint8Array()).toString('utf8')
          tar.entry({ name, type: 'symlink', linkname: target })
        } else if (entry.type === 'file' || entry.type === 'raw' || entry.type === 'identity') {
          const member = tar.entry({ name, type: 'file', size: Number(entry.size), mode: 0o644 })
          await pipeline(cat(store, entry.cid.toString(), { signal }), member)
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
