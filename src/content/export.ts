import { once } from 'node:events'
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { type ExporterOptions, exporter, type ReadableStorage, type UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { InvalidInputError, IpfsKitError, PathError } from '../errors.ts'
import { parseIpfsPath } from './cid.ts'
import { readDag } from './links.ts'

export interface ReadOptions {
  signal?: AbortSignal
}

/** Resolves "<cid>[/path]" to a UnixFS entry, mapping exporter errors to ours. */
export async function resolve(
  store: ReadableStorage,
  path: string,
  opts: ReadOptions = {},
): Promise<UnixFSEntry> {
  const { text } = parseIpfsPath(path)
  return withErrors(() => exporter(text, store, exporterOptions(opts)))
}

/** Streams a file's bytes (`ipfs cat`), optionally a range. */
export async function* cat(
  store: ReadableStorage,
  path: string,
  opts: ReadOptions & { offset?: number; length?: number } = {},
): AsyncGenerator<Uint8Array> {
  if (opts.offset != null && (!Number.isSafeInteger(opts.offset) || opts.offset < 0)) {
    throw new InvalidInputError(`invalid offset ${opts.offset}: must be a whole number >= 0`)
  }
  if (opts.length != null && (!Number.isSafeInteger(opts.length) || opts.length < 0)) {
    throw new InvalidInputError(`invalid length ${opts.length}: must be a whole number >= 0`)
  }
  const entry = await resolve(store, path, opts)
  if (entry.type === 'directory') throw new InvalidInputError(`${path} is a directory: use ls or get`)
  if (entry.type === 'object')
    throw new InvalidInputError(`${path} is not a UnixFS file (codec 0x${entry.cid.code.toString(16)})`)
  if (opts.length === 0) return
  yield* withErrorsGen(() =>
    entry.content({ ...exporterOptions(opts), offset: opts.offset, length: opts.length }),
  )
}

export interface LsEntry {
  name: string
  cid: CID
  size: bigint
  type: 'file' | 'directory' | 'raw' | 'symlink' | 'other'
}

/** Lists a directory (`ipfs ls`); a file lists as itself. */
export async function ls(store: ReadableStorage, path: string, opts: ReadOptions = {}): Promise<LsEntry[]> {
  const entry = await resolve(store, path, opts)
  if (entry.type !== 'directory') return [describe(entry)]
  const out: LsEntry[] = []
  for await (const child of withErrorsGen(() => entry.entries(exporterOptions(opts)))) {
    const full = await withErrors(() => exporter(child.cid, store, exporterOptions(opts)))
    out.push({ ...describe(full), name: child.name })
  }
  return out
}

export interface StatResult {
  cid: CID
  type: LsEntry['type']
  /** File size in bytes (0 for a directory), as `ipfs files stat`. */
  size: bigint
  /** Size of the whole DAG in blocks' bytes. */
  cumulativeSize: number
  blocks: number
  childBlocks: number
}

/** Stats a DAG (`ipfs files stat`): its type, size, and the blocks and bytes it spans. */
export async function stat(
  store: ReadableStorage,
  path: string,
  opts: ReadOptions = {},
): Promise<StatResult> {
  const entry = await resolve(store, path, opts)
  const { type } = describe(entry)
  const size = type === 'directory' ? 0n : entry.size
  let cumulativeSize = 0
  let blocks = 0
  for await (const block of walkBlocks(store, entry.cid, opts)) {
    cumulativeSize += block.length
    blocks++
  }
  const childBlocks = entry.type === 'file' || entry.type === 'directory' ? entry.node.Links.length : 0
  return { cid: entry.cid, type, size, cumulativeSize, blocks, childBlocks }
}

/** Every block of a DAG, parents before children, each once. */
export async function* walkBlocks(
  store: ReadableStorage,
  root: CID,
  opts: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  for await (const { bytes } of readDag(root, (cid) => readBlock(store, cid, opts))) yield bytes
}

/** Reads one whole block from any ReadableStorage. */
export async function readBlock(
  store: ReadableStorage,
  cid: CID,
  opts: ReadOptions = {},
): Promise<Uint8Array> {
  return withErrors(async () => {
    const parts: Uint8Array[] = []
    for await (const part of store.get(cid, opts)) parts.push(part)
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  })
}

/**
 * Writes a file or a whole directory tree to `output` (`ipfs get`). Each file is written to a
 * temporary name and renamed into place, and no entry name can leave `output`.
 */
export async function get(
  store: ReadableStorage,
  path: string,
  output: string,
  opts: ReadOptions = {},
): Promise<number> {
  if (existsSync(output)) throw new PathError(`${output} already exists: choose another output path with -o`)
  const entry = await resolve(store, path, opts)
  mkdirSync(dirname(output), { recursive: true })
  return writeEntry(store, entry, output, opts)
}

async function writeEntry(
  store: ReadableStorage,
  entry: UnixFSEntry,
  out: string,
  opts: ReadOptions,
): Promise<number> {
  if (entry.type === 'directory') {
    mkdirSync(out)
    let n = 0
    for await (const child of withErrorsGen(() => entry.entries(exporterOptions(opts)))) {
      assertSafeName(child.name)
      const full = await withErrors(() => exporter(child.cid, store, exporterOptions(opts)))
      n += await writeEntry(store, full, join(out, child.name), opts)
    }
    return n
  }
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
    symlinkSync(Buffer.from(entry.unixfs.data ?? new Uint8Array()).toString('utf8'), out)
    return 1
  }
  if (entry.type === 'object') throw new InvalidInputError(`${entry.cid} is not UnixFS data`)
  const tmp = `${out}.ipfs-kit-partial`
  const file = createWriteStream(tmp, { flags: 'wx' })
  try {
    for await (const chunk of withErrorsGen(() => entry.content(exporterOptions(opts)))) {
      if (!file.write(chunk)) await once(file, 'drain')
    }
    file.end()
    await once(file, 'finish')
  } catch (err) {
    file.destroy()
    rmSync(tmp, { force: true })
    throw err
  }
  renameSync(tmp, out)
  return 1
}

/** A link name from a DAG must name one entry below its directory, never a path. */
function assertSafeName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new InvalidInputError(`refusing unsafe entry name ${JSON.stringify(name)} in the DAG`)
  }
}

function describe(entry: UnixFSEntry): LsEntry {
  let type: LsEntry['type'] = 'other'
  if (entry.type === 'directory') type = 'directory'
  else if (entry.type === 'raw' || entry.type === 'identity') type = 'raw'
  else if (entry.type === 'file') type = entry.unixfs.type === 'symlink' ? 'symlink' : 'file'
  return { name: entry.name, cid: entry.cid, size: entry.size, type }
}

function exporterOptions(opts: ReadOptions): ExporterOptions {
  return { signal: opts.signal }
}

/** Exporter errors (not found, wrong type) become errors with our codes and clear messages. */
async function withErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw translate(err)
  }
}

async function* withErrorsGen<T>(fn: () => AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* fn()
  } catch (err) {
    throw translate(err)
  }
}

function translate(err: unknown): unknown {
  if (err instanceof IpfsKitError) return err
  const e = err as Error & { code?: string }
  if (e.name === 'NotFoundError' || e.code === 'ERR_NOT_FOUND') {
    return new InvalidInputError(`no such path: ${e.message}`)
  }
  if (e.name === 'NoResolverError')
    return new InvalidInputError(`cannot read this kind of block: ${e.message}`)
  return err
}
