import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { CID } from 'multiformats/cid'
import { parseCid } from '../../content/cid.ts'
import { readBlock } from '../../content/export.ts'
import { decodeNode } from '../../content/node.ts'
import { IpfsKitError } from '../../errors.ts'
import { CID_STRING, ENTITY_BYTES } from '../../http/formats.ts'
import type { ServerContext } from '../context.ts'
import { carRequest, carStream } from './car.ts'
import { nativeFormat, sendCodec, sendDagPreview } from './codec.ts'
import { corsHeaders, disposition, notModified } from './headers.ts'
import { MEDIA, negotiate, parseAccept, type ResponseFormat } from './negotiate.ts'
import { bytesReader, sendRanged } from './ranged.ts'
import { type Resolved, resolvePath } from './resolve.ts'
import { checkTar, tarStream } from './tar.ts'
import { sendDirectory, sendFile, type UnixfsRequest } from './unixfs.ts'

type Query = Record<string, string | undefined>

/** One gateway request, parsed: the root CID, the decoded path below it, and the wanted format. */
interface GatewayRequest extends UnixfsRequest {
  format: ResponseFormat
  query: Query
  acceptsHtml: boolean
}

const QUERY_SCHEMA = {
  type: 'object',
  properties: {
    format: { type: 'string', enum: ['raw', 'car', 'tar', 'dag-json', 'dag-cbor', 'json', 'cbor'] },
    'dag-scope': { type: 'string', enum: ['all', 'entity', 'block'] },
    'entity-bytes': ENTITY_BYTES,
    'car-version': { type: 'string', enum: ['1'] },
    'car-order': { type: 'string', enum: ['dfs', 'unk'] },
    'car-dups': { type: 'string', enum: ['y', 'n'] },
    filename: { type: 'string', maxLength: 255 },
    download: { type: 'string', enum: ['true', 'false'] },
  },
} as const

/** GET and HEAD /ipfs/<cid>[/path]: the path gateway and trustless gateway specs, from local blocks only. */
export function gatewayRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.route({
      method: ['GET', 'HEAD'],
      url: '/ipfs/*',
      exposeHeadRoute: false,
      schema: {
        tags: ['gateway'],
        summary: 'content by CID and path: files, directories, raw blocks, CARs, dag-json/dag-cbor',
        querystring: QUERY_SCHEMA,
        // the root CID; a path below it follows as more segments (/ipfs/<cid>/a/b), which a single
        // OpenAPI path parameter cannot hold
        params: {
          type: 'object',
          properties: { '*': { ...CID_STRING, maxLength: 4096, description: 'a CID, then /path/below/it' } },
          required: ['*'],
        },
      },
      handler: async (req, reply) => {
        corsHeaders(reply)
        return serve(ctx, parse(req, reply.raw), reply)
      },
    })
    app.options('/ipfs/*', { schema: { hide: true } }, async (_req, reply) => {
      corsHeaders(reply)
      return reply.code(200).send()
    })
  }
}

function parse(req: FastifyRequest, res: ServerResponse): GatewayRequest {
  const [rawPath = ''] = req.url.split('?')
  let decoded: string[]
  try {
    decoded = rawPath
      .slice('/ipfs/'.length)
      .split('/')
      .map((p) => decodeURIComponent(p))
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
  // stop reading blocks when the client goes away (not after a complete answer: an abort costs a DOMException)
  const controller = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) controller.abort()
  })
  return {
    root,
    segments,
    contentPath: rawPath,
    trailingSlash: rawPath.endsWith('/'),
    name: query.filename ?? segments.at(-1),
    disposition: fileDisposition(query),
    format: negotiate(query, req.headers.accept),
    acceptsHtml: parseAccept(req.headers.accept).some((a) => a.type === 'text/html'),
    query,
    head: req.method === 'HEAD',
    signal: controller.signal,
  }
}

async function serve(ctx: ServerContext, g: GatewayRequest, reply: FastifyReply): Promise<FastifyReply> {
  if (/\bonly-if-cached\b/i.test(String(reply.request.headers['cache-control'] ?? ''))) {
    try {
      await readBlock(ctx.store, g.root, { signal: g.signal })
    } catch (err) {
      if (err instanceof IpfsKitError && err.code === 'ERR_NOT_FOUND') {
        throw new IpfsKitError('ERR_PRECONDITION_FAILED', `${g.root} is not stored here (only-if-cached)`)
      }
      throw err
    }
    if (g.head) return reply.code(200).send()
  }
  const resolved = await resolvePath(ctx.store, g.root, g.segments, g.signal)
  reply.header('x-ipfs-path', g.contentPath)
  reply.header('x-ipfs-roots', resolved.roots.map((c) => c.toString()).join(','))
  reply.header('vary', 'Accept')
  const cid = resolved.entry.cid
  switch (g.format.kind) {
    case 'raw':
      return sendRaw(reply, cid, await readBlock(ctx.store, cid, { signal: g.signal }), g)
    case 'car':
      return sendCar(ctx, reply, resolved, g)
    case 'tar':
      return sendTar(ctx, reply, resolved, g)
    case 'codec':
      return sendCodec(reply, cid, await readBlock(ctx.store, cid, { signal: g.signal }), g.format.codec, {
        head: g.head,
        filename: g.query.filename,
        download: g.query.download,
      })
  }
  const entry = resolved.entry
  if (entry.type === 'directory') return sendDirectory(ctx, reply, resolved, g)
  if (entry.type === 'object') {
    const bytes = await readBlock(ctx.store, cid, { signal: g.signal })
    const native = nativeFormat(cid)
    if (native == null) return sendRaw(reply, cid, bytes, g)
    if (g.acceptsHtml) return sendDagPreview(reply, cid, bytes, g.head)
    return sendCodec(reply, cid, bytes, native, {
      head: g.head,
      filename: g.query.filename,
      download: g.query.download,
    })
  }
  return sendFile(ctx, reply, entry, [g.root.toString(), ...g.segments].join('/'), g)
}

function sendRaw(reply: FastifyReply, cid: CID, bytes: Uint8Array, g: GatewayRequest): FastifyReply {
  if (notModified(reply, `"${cid}.raw"`)) return reply
  reply.header('content-disposition', disposition('attachment', g.query.filename ?? `${cid}.bin`))
  reply.header('x-content-type-options', 'nosniff')
  return sendRanged(reply, { size: bytes.length, type: MEDIA.raw, head: g.head, read: bytesReader(bytes) })
}

function sendCar(ctx: ServerContext, reply: FastifyReply, r: Resolved, g: GatewayRequest): FastifyReply {
  if (g.format.kind !== 'car') throw new Error('unreachable')
  const req = carRequest(g.query, g.format.dups)
  const cid = r.entry.cid
  const variant = createHash('sha256')
    .update(JSON.stringify([g.contentPath, req.scope, req.entityBytes ?? null, 'dfs', req.dups]))
    .digest('hex')
    .slice(0, 16)
  if (notModified(reply, `W/"${cid}.car.${variant}"`)) return reply
  reply.header('content-type', `${MEDIA.car}; version=1; order=dfs; dups=${req.dups ? 'y' : 'n'}`)
  reply.header('content-disposition', disposition('attachment', g.query.filename ?? `${cid}.car`))
  reply.header('x-content-type-options', 'nosniff')
  reply.header('accept-ranges', 'none')
  if (g.head) return reply.code(200).send()
  return reply.code(200).send(Readable.from(carStream(ctx.store, r, req, g.signal)))
}

async function sendTar(ctx: ServerContext, reply: FastifyReply, r: Resolved, g: GatewayRequest) {
  const cid = r.entry.cid
  if (notModified(reply, `W/"${cid}.x-tar"`)) return reply
  // the tree is walked once to refuse (400) a name that would leave it, before anything is sent
  const root = decodeNode(cid, await readBlock(ctx.store, cid, { signal: g.signal }))
  await checkTar(ctx.store, root, g.signal)
  reply.header('content-type', MEDIA.tar)
  reply.header('content-disposition', disposition('attachment', g.query.filename ?? `${cid}.tar`))
  reply.header('x-content-type-options', 'nosniff')
  if (g.head) return reply.code(200).send()
  return reply.code(200).send(tarStream(ctx.store, root, g.signal))
}

/** `?filename=` and `?download=true` as a Content-Disposition for files. */
function fileDisposition(query: Query): string | undefined {
  if (query.filename == null && query.download !== 'true') return undefined
  return disposition(query.download === 'true' ? 'attachment' : 'inline', query.filename)
}
