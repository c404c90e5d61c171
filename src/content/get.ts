import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs'
import { lstat, mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { blockKey } from '../blockstore/hashing.ts'
import { COALESCE_BYTES } from '../blockstore/pack-store.ts'
import { SpanPool } from '../blockstore/span-pool.ts'
import { InvalidInputError, PathError } from '../errors.ts'
import { FILE_WRITE_SLICE } from '../fs-utils.ts'
import type { BlockSource, ReadOptions } from './blocks.ts'
import { readFile } from './cat.ts'
import type { ContentNode } from './node.ts'
import { type DirLink, dirEntries, resolve } from './resolve.ts'

/**
 * Writes a file or a whole directory tree to `output` (`ipfs get`). Everything is written under a
 * hidden temporary name beside `output` and renamed into place at the end, so `output` appears
 * whole or not at all: an error, an abort (Ctrl-C) or a crash never leaves a partial one. No entry
 * name from the DAG can leave `output`. Returns the number of files and symlinks written.
 */
export async function get(
  store: BlockSource,
  path: string,
  output: string,
  opts: ReadOptions = {},
): Promise<number> {
  await assertFree(output)
  const entry = await resolve(store, path, opts)
  await mkdir(dirname(output), { recursive: true })
  const tmp = join(dirname(output), `.${basename(output)}.ipfs-kit-partial-${randomBytes(4).toString('hex')}`)
  try {
    // read spans reused once written (see SpanPool): a fresh 4 MiB buffer per read costs page faults
    // on new memory, and on this VM 1 GiB of them made a get take anywhere from 0.9 to 3.7 s
    const spans = new SpanPool(COALESCE_BYTES)
    const n = await writeNode(store, entry, tmp, { ...opts, spans }, [])
    await assertFree(output)
    await rename(tmp, output)
    return n
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}

/**
 * Writes `n` at `out`. `above` holds the directories it is inside: hash links cannot make a cycle,
 * but a block stored under a CID it does not hash to can, and a tree is never written through one.
 */
async function writeNode(
  store: BlockSource,
  n: ContentNode,
  out: string,
  opts: ReadOptions & { spans: SpanPool },
  above: string[],
): Promise<number> {
  switch (n.kind) {
    case 'directory':
    case 'hamt': {
      const key = blockKey(n.cid)
      if (above.includes(key))
        throw new InvalidInputError(`directory ${n.cid} contains itself: refusing to write it`)
      // the tree's own syscalls (mkdir, open, close, symlink) are synchronous: each takes
      // microseconds, where a thread-pool round trip costs two thread wake-ups (60,000 small files:
      // most of the time)
      mkdirSync(out)
      const inside = [...above, key]
      const names = new Set<string>()
      const check = (link: DirLink) => {
        assertSafeName(link.name)
        // two entries of one name cannot both be written; Kubo's get fails on them too
        if (names.has(link.name))
          throw new InvalidInputError(`directory ${n.cid} has two entries named ${JSON.stringify(link.name)}`)
        names.add(link.name)
      }
      let count = 0
      for await (const { link, node } of dirEntries(store, n, opts, { check }))
        count += await writeNode(store, node!, join(out, link.name), opts, inside)
      return count
    }
    case 'symlink':
      symlinkSync(Buffer.from(n.unixfs.data ?? new Uint8Array()).toString('utf8'), out)
      return 1
    case 'file':
    case 'raw':
      await writeFileFrom(readFile(store, n, opts), out, (chunk) => opts.spans.release(chunk))
      return 1
    default:
      throw new InvalidInputError(`${n.cid} is not UnixFS data`)
  }
}

/**
 * Writes a stream of chunks to a new file as they come, a page per write(2) (FILE_WRITE_SLICE: far
 * faster here than large writes). The open, writes and close are synchronous: they cost
 * microseconds each, and the blocks of the next chunks are read on the thread pool meanwhile. Each
 * chunk is released once written.
 */
async function writeFileFrom(
  source: AsyncIterable<Uint8Array>,
  path: string,
  release: (chunk: Uint8Array) => void,
): Promise<void> {
  const fd = openSync(path, 'wx')
  try {
    for await (const chunk of source) {
      let offset = 0
      while (offset < chunk.length)
        offset += writeSync(fd, chunk, offset, Math.min(FILE_WRITE_SLICE, chunk.length - offset))
      release(chunk)
    }
  } finally {
    closeSync(fd)
  }
}

async function assertFree(output: string): Promise<void> {
  const exists = await lstat(output).then(
    () => true,
    () => false,
  )
  if (exists) throw new PathError(`${output} already exists: choose another output path with -o`)
}

/** A link name from a DAG must name one entry below its directory, never a path. */
function assertSafeName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidInputError(`refusing unsafe entry name ${JSON.stringify(name)} in the DAG`)
  }
}
