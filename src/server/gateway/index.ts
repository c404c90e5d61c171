import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../content/cid.ts'
import { ls, readBlock } from '../../content/export.ts'
import { IpfsKitError } from '../../errors.ts'
import type { ServerContext } from '../context.ts'
import { carRequest, carStream } from './car.ts'
import { sendFile } from './file.ts'
import { directoryListing } from './listing.ts'
import { MEDIA, negotiate, type ResponseFormat } from './negotiate.ts'
import { type Resolved, resolvePath } from './resolve.ts'

/** Immutable content: cache for a year (the path gateway spec's value). */
export const IMMUTABLE = 'public, max-age=29030400, immutable'

type Query = Record<string, string | undefined>

/** One gateway request, parsed: the root CID, the decoded path below it, and the wanted format. */
interface GatewayRequest {
  root: CID
  segments: string[]
  /** The content path as requested, e.g. `/ipfs/bafy.../a/b` (for X-Ipfs-Path). */
  contentPath: string
  trailingSlash: boolean
  format: ResponseFormat
  query: Query
  head: boolean
  signal: AbortSignal
}

/** GET and HEAD /ipfs/<cid>[/path]: the path gateway and trustless gateway specs, from local blocks only. */
export function gatewayRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.route({
      method: ['GET', 'HEAD'],
      url: '/ipfs/*',
      exposeHeadRoute: false,
      schema: {
        tags: ['gateway'],
        summary: 'content by CID and path (files, directories, raw blocks, CAR)',
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: ['raw', 'car', 'dag-json', 'dag-cbor', 'json', 'cbor'] },
            'dag-scope': { type: 'string', enum: ['all', 'entity', 'block'] },
            'entity-bytes': { type: 'string' },
            'car-version': { type: 'string' },
            'car-order': { type: 'string' },
            'car-dups': { type: 'string' },
            filename: { type: 'string' },
            download: { type: 'string' },
          },
        },
      },
      handler: async (req, reply) => serve(ctx, parse(req), reply),
    })
  }
}

function parse(req: FastifyRequest): GatewayRequest {
  const [rawPath = ''] = req.url.split('?')
  const parts = rawPath.slice('/ipfs/'.length).split('/')
  let decoded: string[]
  try {
    decoded = parts.map((p) => decodeURIComponent(p))
  } catch {
    throw new IpfsKitError('ERR_INVALID_INPUT', `invalid path "${rawPath}": bad percent-encoding`)
  }
  const [cidText = '', ...rest] = decoded
  const root = parseCid(cidText)
  const segments = rest.filter((s) => s !== '')
  for (const s of segments) {
    if (s === '.' || s === '..' || s.includes('/') || s.includes('\0')) {
      throw new IpfsKitError('ERR_INVALID_INPUT', `invalid path "${rawPath}": "${s}" is not a name`)
    }
  }
  const query = req.query as Query
  const controller = new AbortController()
  req.raw.once('close', () => controller.abort())
  return {
    root,
    segments,
    contentPath: rawPath,
    trailingSlash: rawPath.endsWith('/'),
    format: negotiate(query, req.headers.accept),
    query,
    head: req.method === 'HEAD',
    signal: controller.signal,
  }
}

async function serve(ctx: ServerContext, g: GatewayRequest, reply: FastifyReply): Promise<FastifyReply> {
  const onlyIfCached = /\bonly-if-cached\b/i.test(String(reply.request.headers['cache-control'] ?? ''))
  try {
    await readBlock(ctx.store, g.root, { signal: g.signal })
  } catch (err) {
    if (onlyIfCached && err instanceof IpfsKitError && err.code === 'ERR_NOT_FOUND') {
      throw new IpfsKitError('ERR_PRECONDITION_FAILED', `${g.root} is not stored here (only-if-cached)`)
    }
    throw err
  }
  if (onlyIfCached && g.head) return reply.code(200).send()
  const resolved = await resolvePath(ctx.store, g.root, g.segments, g.signal)
  reply.header('x-ipfs-path', g.contentPath)
  reply.header('x-ipfs-roots', resolved.roots.map((c) => c.toString()).join(','))
  reply.header('vary', 'Accept, Accept-Encoding')
  reply.header('access-control-allow-origin', '*')
  reply.header(
    'access-control-expose-headers',
    'Content-Range, Content-Length, X-Ipfs-Path, X-Ipfs-Roots, X-Chunked-Output, X-Stream-Output',
  )
  switch (g.format.kind) {
    case 'raw':
      return serveRaw(ctx, g, resolved, reply)
    case 'car':
      return serveCar(ctx, g, resolved, reply)
    case 'codec':
      return serveCodec(ctx, g, resolved, reply, g.format.codec)
    default:
      return serveDeserialized(ctx, g, resolved, reply)
  }
}

/** True (and a 304 sent) when the client's If-None-Match names this ETag. */
function notModified(reply: FastifyReply, etag: string): boolean {
  reply.header('etag', etag)
  reply.header('cache-control', IMMUTABLE)
  const inm = reply.request.headers['if-none-match']
  if (inm == null) return false
  const strip = (t: string) => t.trim().replace(/^W\//, '')
  const tags = inm.split(',').map(strip)
  if (!tags.includes('*') && !tags.includes(strip(etag))) return false
  reply.code(304).send()
  return true
}

function attachment(reply: FastifyReply, name: string): void {
  reply.header('content-disposition', `attachment; filename="${name}"`)
  reply.header('x-content-type-options', 'nosniff')
}

async function serveRaw(ctx: ServerContext, g: GatewayRequest, r: Resolved, reply: FastifyReply) {
  const cid = r.entry.cid
  if (notModified(reply, `"${cid}.raw"`)) return reply
  const bytes = await readBlock(ctx.store, cid, { signal: g.signal })
  reply.header('content-type', MEDIA.raw)
  attachment(reply, g.query.filename ?? `${cid}.bin`)
  reply.header('content-length', bytes.length)
  return reply.code(200).send(g.head ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length))
}

async function serveCar(ctx: ServerContext, g: GatewayRequest, r: Resolved, reply: FastifyReply) {
  if (g.format.kind !== 'car') throw new Error('unreachable')
  const req = carRequest(g.query, g.format.dups)
  const cid = r.entry.cid
  const variant = createHash('sha256')
    .update(JSON.stringify([g.contentPath, req.scope, req.entityBytes ?? null, 'dfs', req.dups]))
    .digest('hex')
    .slice(0, 16)
  if (notModified(reply, `W/"${cid}.car.${variant}"`)) return reply
  reply.header('content-type', `${MEDIA.car}; version=1; order=dfs; dups=${req.dups ? 'y' : 'n'}`)
  reply.header('accept-ranges', 'none')
  attachment(reply, g.query.filename ?? `${cid}.car`)
  if (g.head) return reply.code(200).send()
  return reply.code(200).send(Readable.from(carStream(ctx.store, r, req, g.signal)))
}

const CODEC_NAMES: Record<number, 'dag-json' | 'dag-cbor' | 'dag-pb' | undefined> = {
  [dagJson.code]: 'dag-json',
  [dagCbor.code]: 'dag-cbor',
  [dagPb.code]: 'dag-pb',
  512: undefined,
}

/** dag-json / dag-cbor (and plain json / cbor) answers: the block as is, or converted between the two. */
async function serveCodec(
  ctx: ServerContext,
  g: GatewayRequest,
  r: Resolved,
  reply: FastifyReply,
  want: 'dag-json' | 'dag-cbor' | 'json' | 'cbor',
) {
  const cid = r.entry.cid
  const have = CODEC_NAMES[cid.code]
  const bytes = await readBlock(ctx.store, cid, { signal: g.signal })
  let body: Uint8Array
  if ((want === 'dag-json' || want === 'json') && (have === 'dag-json' || cid.code === 0x0200)) body = bytes
  else if ((want === 'dag-cbor' || want === 'cbor') && (have === 'dag-cbor' || cid.code === 0x51))
    body = bytes
  else if (want === 'dag-json' && have != null) body = dagJson.encode(decodeBlock(cid, bytes))
  else if (want === 'dag-cbor' && have != null) body = dagCbor.encode(decodeBlock(cid, bytes))
  else {
    throw new IpfsKitError(
      'ERR_NOT_ACCEPTABLE',
      `${cid} cannot be served as ${want}: ask for dag-json or dag-cbor`,
    )
  }
  if (notModified(reply, `"${cid}.${want}"`)) return reply
  reply.header('content-type', MEDIA[want])
  const ext = want.endsWith('json') ? 'json' : 'cbor'
  reply.header(
    'content-disposition',
    `${g.query.download === 'false' ? 'inline' : 'attachment'}; filename="${g.query.filename ?? `${cid}.${ext}`}"`,
  )
  reply.header('content-length', body.length)
  return reply.code(200).send(g.head ? undefined : Buffer.from(body.buffer, body.byteOffset, body.length))
}

function decodeBlock(cid: CID, bytes: Uint8Array): unknown {
  if (cid.code === dagPb.code) return dagPb.decode(bytes)
  if (cid.code === dagCbor.code) return dagCbor.decode(bytes)
  return dagJson.decode(bytes)
}

/** Files, directories (index.html or a listing) and other IPLD blocks, as a browser wants them. */
async function serveDeserialized(ctx: ServerContext, g: GatewayRequest, r: Resolved, reply: FastifyReply) {
  const entry = r.entry
  if (entry.type === 'directory') return serveDirectory(ctx, g, r, reply)
  if (entry.type === 'object') {
    const codec = CODEC_NAMES[entry.cid.code]
    if (codec === 'dag-json' || codec === 'dag-cbor') return serveCodec(ctx, g, r, reply, codec)
    return serveRaw(ctx, g, r, reply)
  }
  const name = g.query.filename ?? g.segments.at(-1)
  return sendFile(ctx, reply, {
    entry,
    path: [g.root.toString(), ...g.segments].join('/'),
    name,
    etag: `"${entry.cid}"`,
    head: g.head,
    signal: g.signal,
    disposition: contentDisposition(g.query),
    notModified: (etag) => notModified(reply, etag),
  })
}

async function serveDirectory(ctx: ServerContext, g: GatewayRequest, r: Resolved, reply: FastifyReply) {
  if (!g.trailingSlash) {
    const [, search] = reply.request.url.split('?')
    return reply.redirect(`${g.contentPath}/${search != null ? `?${search}` : ''}`, 301)
  }
  const dirPath = [g.root.toString(), ...g.segments].join('/')
  let index: Resolved | undefined
  try {
    index = await resolvePath(ctx.store, g.root, [...g.segments, 'index.html'], g.signal)
  } catch (err) {
    if (!(err instanceof IpfsKitError && err.code === 'ERR_NOT_FOUND')) throw err
  }
  if (index != null && index.entry.type !== 'directory' && index.entry.type !== 'object') {
    return sendFile(ctx, reply, {
      entry: index.entry,
      path: `${dirPath}/index.html`,
      name: 'index.html',
      etag: `"${index.entry.cid}"`,
      head: g.head,
      signal: g.signal,
      disposition: undefined,
      notModified: (etag) => notModified(reply, etag),
    })
  }
  const listingVersion = 'v1'
  if (notModified(reply, `W/"DirIndex-${listingVersion}_CID-${r.entry.cid}"`)) return reply
  const html = directoryListing(
    g.contentPath,
    r.entry.cid.toString(),
    await ls(ctx.store, dirPath, { signal: g.signal }),
  )
  reply.header('content-type', 'text/html; charset=utf-8')
  reply.header('cache-control', 'public, max-age=604800, stale-while-revalidate=2678400')
  return reply.code(200).send(g.head ? undefined : html)
}

function contentDisposition(query: Query): string | undefined {
  if (query.filename == null && query.download !== 'true') return undefined
  const kind = query.download === 'true' ? 'attachment' : 'inline'
  if (query.filename == null) return kind
  const ascii = query.filename.replace(/[^\x20-\x7e]|"/g, '_')
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(query.filename)}`
}
