import { createReadStream, type Dirent, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { basename, join } from 'node:path'
import { code as DAG_PB, decode as decodePb, type PBNode } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { type ImportCandidate, type ImportResult, importer, type WritableStorage } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { PathError } from '../errors.ts'
import type { Repo } from '../repo.ts'
import { type CidOptions, kuboImporterOptions } from './cid-options.ts'

export interface AddOptions extends CidOptions {
  /** Add directories recursively (`-r`); without it a directory is refused. */
  recursive?: boolean
  /** Include dot-files when adding directories (`-H`), as Kubo's `--hidden`. */
  hidden?: boolean
  /** Compute CIDs without storing anything (`-n`). */
  onlyHash?: boolean
  /** Pin the roots (default true, as Kubo). */
  pin?: boolean
  /** Called with the running count of bytes read from the input. */
  onBytes?: (bytes: number) => void
}

/** One line of `ipfs add` output: a file or directory and its CID. */
export interface AddedEntry {
  path: string
  cid: CID
  size: bigint
}

/** Where add reads from: paths on disk, or one byte stream (stdin). */
export type AddSource = { paths: string[] } | { stream: AsyncIterable<Uint8Array>; name?: string }

/** Total bytes that an add of these paths will read; for progress bars. */
export function inputSize(paths: string[], opts: Pick<AddOptions, 'recursive' | 'hidden'>): number {
  let total = 0
  for (const c of walkPaths(paths, opts)) if ('stats' in c) total += c.stats.size
  return total
}

/**
 * Imports files, directories or a stream with Kubo's defaults and flags. Returns every entry
 * Kubo would print, in its order (see kuboOrder). Blocks are durable and pins recorded before it returns.
 */
export async function add(
  repo: Repo | undefined,
  source: AddSource,
  opts: AddOptions = {},
): Promise<AddedEntry[]> {
  const options = kuboImporterOptions(opts)
  const walk: Walk = { tops: [], dirs: new Set(), rank: new Map() }
  const candidates =
    'paths' in source ? toCandidates(source.paths, opts, walk) : streamCandidate(source, opts)
  const run = async (store: WritableStorage) => {
    const dirBlocks = new DirBlocks()
    const entries = await collect(importer(candidates, dirBlocks.watch(store), options))
    return walk.dirs.size === 0 ? entries : kuboOrder(entries, walk, dirBlocks)
  }
  if (opts.onlyHash || repo == null) return run({ put: async (cid) => cid })
  const writer = repo.blocks.writer()
  try {
    const entries = await run(writer)
    await writer.commit()
    if (opts.pin !== false) {
      // loaded here, not at the top: `ipfs add -n` opens no repo and should not load SQLite and zod
      const { recordLocalPin } = await import('../repo.ts')
      for (const root of roots(entries)) recordLocalPin(repo, root.cid.toString())
    }
    return entries
  } finally {
    writer.close()
  }
}

/** The entries Kubo pins: the top-level items (or the wrapping directory). */
export function roots(entries: AddedEntry[]): AddedEntry[] {
  return entries.filter((e) => !e.path.includes('/'))
}

async function collect(results: AsyncIterable<ImportResult>): Promise<AddedEntry[]> {
  const out: AddedEntry[] = []
  for await (const r of results) out.push({ path: r.path ?? r.cid.toString(), cid: r.cid, size: r.size })
  return out
}

async function* streamCandidate(
  source: { stream: AsyncIterable<Uint8Array>; name?: string },
  opts: AddOptions,
): AsyncGenerator<ImportCandidate> {
  yield { path: source.name, content: counted(source.stream, opts.onBytes) }
}

interface FileEntry {
  path: string
  abs: string
  stats: Stats
}
/** `rank` is the entry's place in Kubo's depth-first walk: argument index, then sibling indexes. */
type WalkEntry = (FileEntry | { path: string; abs: string; dir: true } | { path: string; link: string }) & {
  rank: number[]
}
/** What the walk tells the output: the top-level names in order, the directories, the others' ranks. */
interface Walk {
  tops: string[]
  dirs: Set<string>
  rank: Map<string, number[]>
}

/**
 * The directory and HAMT-shard blocks an import writes. The importer does not report empty
 * directories, nor directories inside a HAMT shard (it reports those under the shard's own path, or
 * not at all below a sub-shard), so every directory below a root is read back from these blocks.
 */
class DirBlocks {
  private readonly nodes = new Map<string, { node: PBNode; unixfs: UnixFS }>()

  watch(store: WritableStorage): WritableStorage {
    return {
      put: (cid, value, options) => {
        if (cid.code === DAG_PB && value instanceof Uint8Array) this.see(cid, value)
        return store.put(cid, value, options)
      },
    }
  }

  private see(cid: CID, bytes: Uint8Array): void {
    const node = decodePb(bytes)
    // UnixFS Data starts with its Type field: 0x08, then 1 (directory) or 5 (HAMT shard); skip file blocks
    if (node.Data?.[0] !== 0x08 || (node.Data[1] !== 1 && node.Data[1] !== 5)) return
    this.nodes.set(cid.toString(), { node, unixfs: UnixFS.unmarshal(node.Data) })
  }

  /**
   * The directories below the directory `cid` at `path`, each after its own subdirectories and in
   * link order (a shard's is hash order), as Kubo lists them; with the size its parent links.
   */
  *below(cid: CID, path: string): Generator<AddedEntry> {
    const dir = this.nodes.get(cid.toString())
    if (dir == null) return
    // a shard's link names are a hex bucket label then the entry name; a bare label is a sub-shard
    const label =
      dir.unixfs.type === 'hamt-sharded-directory' ? (Number(dir.unixfs.fanout) - 1).toString(16).length : 0
    for (const link of dir.node.Links) {
      const name = (link.Name ?? '').slice(label)
      if (label > 0 && name === '') {
        yield* this.below(link.Hash, path)
      } else if (this.nodes.has(link.Hash.toString())) {
        const child = path === '' ? name : `${path}/${name}`
        yield* this.below(link.Hash, child)
        yield { path: child, cid: link.Hash, size: BigInt(link.Tsize ?? 0) }
      }
    }
  }
}

/**
 * Kubo's output order. It adds each argument on its own, in name order (all at once with -w):
 * first the files and symlinks as its depth-first walk meets them, then the directories, each
 * after its subdirectories. Only roots (top-level items, or '' with -w) are taken from the
 * importer's report; the directories below them are read from the blocks.
 */
function kuboOrder(entries: AddedEntry[], walk: Walk, blocks: DirBlocks): AddedEntry[] {
  const isDir = (path: string) => walk.dirs.has(path) || path === ''
  // a sharded root is reported last, after the subdirectories that the importer labels with its path
  const roots = new Map(entries.filter((e) => isDir(e.path) && !e.path.includes('/')).map((e) => [e.path, e]))
  const rank = (e: AddedEntry) => walk.rank.get(e.path) ?? []
  const files = entries.filter((e) => !isDir(e.path)).sort((a, b) => byRank(rank(a), rank(b)))
  const out: AddedEntry[] = []
  // no push(...many): a spread of 100k+ entries overflows the stack
  const pushDirs = (root: AddedEntry) => {
    for (const d of blocks.below(root.cid, root.path)) out.push(d)
    out.push(root)
  }
  const wrapper = roots.get('')
  let next = 0
  if (wrapper == null) {
    for (const [i, top] of walk.tops.entries()) {
      while (next < files.length && rank(files[next]!)[0] === i) out.push(files[next++]!)
      const root = roots.get(top)
      if (root != null) pushDirs(root)
    }
  }
  while (next < files.length) out.push(files[next++]!)
  if (wrapper != null) pushDirs(wrapper)
  const printed = new Set(out.map((e) => e.path))
  for (const d of walk.dirs) if (!printed.has(d)) throw new Error(`directory ${d} is missing from the import`)
  return out
}

function byRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

function* toCandidates(paths: string[], opts: AddOptions, walk: Walk): Generator<ImportCandidate> {
  let read = 0
  const onChunk =
    opts.onBytes == null
      ? undefined
      : (n: number) => {
          read += n
          opts.onBytes?.(read)
        }
  for (const entry of walkPaths(paths, opts)) {
    if (entry.rank.length === 1) walk.tops.push(entry.path)
    if ('stats' in entry) {
      walk.rank.set(entry.path, entry.rank)
      yield { path: entry.path, content: readFile(entry.abs, entry.stats.size, onChunk) }
    } else if ('link' in entry) {
      walk.rank.set(entry.path, entry.rank)
      yield { path: entry.path, link: entry.link }
    } else {
      walk.dirs.add(entry.path)
      yield { path: entry.path }
    }
  }
}

/** Validates every argument up front, so a bad one fails before anything is written. */
function* walkPaths(paths: string[], opts: Pick<AddOptions, 'recursive' | 'hidden'>): Generator<WalkEntry> {
  const checked = paths.map((p) => {
    let stats: Stats
    try {
      // lstat: Kubo adds a symlink argument as a symlink (without --dereference-args), wherever it points
      stats = lstatSync(p)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      throw new PathError(
        code === 'ENOENT'
          ? `no such file or directory: ${p}`
          : `cannot read ${p}: ${code ?? (err as Error).message}`,
      )
    }
    if (stats.isDirectory() && !opts.recursive)
      throw new PathError(`${p} is a directory: use -r to add directories`)
    if (!stats.isDirectory() && !stats.isFile() && !stats.isSymbolicLink())
      throw new PathError(`${p} is not a regular file or directory`)
    return { p, stats }
  })
  // Kubo sorts the arguments by name (byte order), and so the top-level output lines
  checked.sort((a, b) => Buffer.compare(Buffer.from(basename(a.p)), Buffer.from(basename(b.p))))
  // every top-level item first, then what is inside the directories: see walkDir for why
  for (const [i, { p, stats }] of checked.entries()) {
    const name = basename(p)
    if (stats.isSymbolicLink()) yield { path: name, link: readlinkSync(p), rank: [i] }
    else if (stats.isDirectory()) yield { path: name, abs: p, dir: true, rank: [i] }
    else yield { path: name, abs: p, stats, rank: [i] }
  }
  for (const [i, { p, stats }] of checked.entries()) {
    if (stats.isDirectory()) yield* walkDir(p, basename(p), opts.hidden === true, [i])
  }
}

/**
 * The entries of a directory (its own entry is yielded by the caller). All of them go to the
 * importer before anything inside the subdirectories: the importer counts a subdirectory's link
 * towards the 256 KiB HAMT threshold only until the first entry inside it arrives, and Kubo
 * always counts it, so a depth-first order could leave unsharded a directory that Kubo shards.
 */
function* walkDir(abs: string, path: string, hidden: boolean, rank: number[]): Generator<WalkEntry> {
  let children: Dirent[]
  try {
    children = readdirSync(abs, { withFileTypes: true })
  } catch (err) {
    throw new PathError(`cannot read directory ${abs}: ${(err as NodeJS.ErrnoException).code}`)
  }
  // byte order, as Go sorts names; UTF-16 order differs for characters past U+FFFF
  children.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  const subdirs: { abs: string; path: string; rank: number[] }[] = []
  for (const [i, child] of children.entries()) {
    if (!hidden && child.name.startsWith('.')) continue
    const childAbs = join(abs, child.name)
    const childPath = `${path}/${child.name}`
    const childRank = [...rank, i]
    if (child.isSymbolicLink()) {
      yield { path: childPath, link: readlinkSync(childAbs), rank: childRank }
    } else if (child.isDirectory()) {
      yield { path: childPath, abs: childAbs, dir: true, rank: childRank }
      subdirs.push({ abs: childAbs, path: childPath, rank: childRank })
    } else if (child.isFile()) {
      yield { path: childPath, abs: childAbs, stats: lstatSync(childAbs), rank: childRank }
    }
    // sockets, fifos and devices are skipped, as Kubo does
  }
  for (const d of subdirs) yield* walkDir(d.abs, d.path, hidden, d.rank)
}

async function* readFile(
  path: string,
  size: number,
  onChunk?: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  // 4 MiB reads for big files (a 256 MiB add: 0.63 s against 0.73 s with 1 MiB, BENCHMARKS.md);
  // a small file gets a buffer its own size, or 5,000 tiny files spend their time allocating
  const stream = createReadStream(path, { highWaterMark: Math.min(4 << 20, Math.max(size, 64 << 10)) })
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onChunk?.(chunk.length)
    yield chunk
  }
}

async function* counted(
  source: AsyncIterable<Uint8Array>,
  onBytes?: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  let n = 0
  for await (const chunk of source) {
    n += chunk.length
    onBytes?.(n)
    yield chunk
  }
}
