import type { FastifyReply } from 'fastify'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import { COALESCE_BYTES } from '../../blockstore/pack-store.ts'
import { SpanPool } from '../../blockstore/span-pool.ts'
import { cat, ls } from '../../content/export.ts'
import { IpfsKitError } from '../../errors.ts'
import type { ServerContext } from '../context.ts'
import { SNIFF_BYTES, typeFromBytes, typeFromName } from './content-type.ts'
import { GENERATED, notModified } from './headers.ts'
import { directoryListing } from './listing.ts'
import { bytesReader, sendRanged } from './ranged.ts'
import { type Resolved, resolvePath } from './resolve.ts'

export interface UnixfsRequest {
  root: CID
  segments: string[]
  contentPath: string
  trailingSlash: boolean
  /** The name that decides the Content-Type, when it has an extension. */
  name: string | undefined
  disposition: string | undefined
  head: boolean
  signal: AbortSignal
}

/** Files up to this size are read in one piece (one read for the sniffing and the body). */
const SMALL_FILE = 64 * 1024

/** A UnixFS file (or symlink), streamed from the blockstore with Range support. */
export async function sendFile(
  ctx: ServerContext,
  reply: FastifyReply,
  entry: UnixFSEntry,
  path: string,
  req: UnixfsRequest,
  etag = `"${entry.cid}"`,
): Promise<FastifyReply> {
  if (notModified(reply, etag)) return reply
  if (req.disposition != null) reply.header('content-disposition', req.disposition)
  if (entry.type === 'file' && entry.unixfs.type === 'symlink') {
    // a symlink is served as its target path, as Kubo does
    const target = entry.unixfs.data ?? new Uint8Array()
    return sendRanged(reply, {
      size: target.length,
      type: 'text/plain; charset=utf-8',
      head: req.head,
      read: bytesReader(target),
    })
  }
  if (entry.type === 'directory' || entry.type === 'object') throw new Error('sendFile needs a file entry')
  const size = Number(entry.size)
  if (size <= SMALL_FILE && reply.request.headers.range == null) {
    // one read serves both the sniffing and the body (a Range reads only its own blocks, below)
    // (the resolved entry reads its bytes directly: a second path resolution would double the cost)
    const chunks: Uint8Array[] = []
    for await (const chunk of entry.content({ signal: req.signal })) chunks.push(chunk)
    const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
    const type = typeFromName(req.name) ?? (await typeFromBytes(bytes, true))
    return sendRanged(reply, { size: bytes.length, type, head: req.head, read: bytesReader(bytes) })
  }
  const type = typeFromName(req.name) ?? (await sniff(ctx, path, size, req.signal))
  // this response's read spans, reused once the socket has written them (see SpanPool)
  const spans = new SpanPool(COALESCE_BYTES)
  return sendRanged(reply, {
    size,
    type,
    head: req.head,
    read: (offset, length) => cat(ctx.store, path, { offset, length, signal: req.signal, spans }),
    release: (chunk) => spans.release(chunk),
  })
}

/** A directory: 301 to the slash form, then its index.html if it has one, else a listing. */
export async function sendDirectory(
  ctx: ServerContext,
  reply: FastifyReply,
  resolved: Resolved,
  req: UnixfsRequest,
): Promise<FastifyReply> {
  if (!req.trailingSlash) {
    const [, search] = reply.request.url.split('?')
    return reply.redirect(`${req.contentPath}/${search != null ? `?${search}` : ''}`, 301)
  }
  const dirPath = [req.root.toString(), ...req.segments].join('/')
  let index: Resolved | undefined
  try {
    index = await resolvePath(ctx.store, req.root, [...req.segments, 'index.html'], req.signal)
  } catch (err) {
    if (!(err instanceof IpfsKitError && err.code === 'ERR_NOT_FOUND')) throw err
  }
  if (index != null && index.entry.type !== 'directory' && index.entry.type !== 'object') {
    const html = { ...req, name: 'index.html', disposition: undefined }
    return sendFile(ctx, reply, index.entry, `${dirPath}/index.html`, html, `"${resolved.entry.cid}"`)
  }
  if (notModified(reply, `"DirIndex-v1_CID-${resolved.entry.cid}"`, GENERATED)) return reply
  const entries = await ls(ctx.store, dirPath, { signal: req.signal })
  reply.header('content-type', 'text/html; charset=utf-8')
  if (req.head) return reply.code(200).send()
  return reply
    .code(200)
    .send(directoryListing(req.root.toString(), req.segments, resolved.entry.cid.toString(), entries))
}

/** The Content-Type from the first bytes, for names without a known extension. */
async function sniff(ctx: ServerContext, path: string, size: number, signal: AbortSignal): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const chunk of cat(ctx.store, path, { length: SNIFF_BYTES, signal })) chunks.push(chunk)
  const head = Buffer.concat(chunks)
  return typeFromBytes(head, size <= SNIFF_BYTES)
}
