import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { cat } from '../../content/cat.ts'
import { IpfsKitError } from '../../errors.ts'
import { VFS_ENTRY_PATH, VFS_PATH, VFS_SOURCE } from '../../http/formats.ts'
import { recordLocalPin } from '../../repo.ts'
import { VfsTypeError } from '../../vfs/index.ts'
import type { ServerContext } from '../context.ts'
import { ErrorBody } from '../errors.ts'
import { typeFromName } from '../gateway/content-type.ts'
import { sendRanged } from '../gateway/ranged.ts'
import { entryJson, statJson } from '../vfs-json.ts'
import { boundedBody } from './upload.ts'

const Entry = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    type: { type: 'string', enum: ['file', 'directory', 'symlink'] },
    size: { type: 'number' },
    cid: { type: 'string' },
  },
  required: ['name', 'type', 'size', 'cid'],
} as const

const Stat = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    cid: { type: 'string' },
    type: { type: 'string', enum: ['file', 'directory', 'symlink'] },
    size: { type: 'number' },
    cumulative_size: { type: 'number' },
    blocks: { type: 'integer' },
  },
  required: ['path', 'cid', 'type', 'size', 'cumulative_size', 'blocks'],
} as const

const CID_VERSION = { type: 'integer', enum: [0, 1] } as const
const PathQuery = {
  type: 'object',
  properties: { path: { ...VFS_PATH, default: '/' } },
} as const
/** Reads: bad path 400, no such path 404, a path through a file or a read of a directory 409. */
const ReadErrors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody } as const
/** Reading a file: also 416 for a Range outside it. */
const ReadFileErrors = { ...ReadErrors, 416: ErrorBody } as const
/** Changes: also no token 401, in the way 409 (an existing entry, or another writer for too long). */
const WriteErrors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 409: ErrorBody } as const
const mutating = { tags: ['vfs'], security: [{ bearer: [] }] } as const

/**
 * /api/vfs: the mutable file tree (Kubo's `ipfs files`) over HTTP: what the dashboard's file browser
 * and scripts use. Reads need no daemon and no token; every change needs the token, is durable when
 * answered, and can be pinned (recorded in state.db, which a running daemon picks up and replicates).
 */
export function vfsRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))

    app.get<{ Querystring: { path: string } }>(
      '/api/vfs/ls',
      {
        schema: {
          tags: ['vfs'],
          summary: "the entries of a VFS directory (a file lists as itself), with the directory's CID",
          querystring: PathQuery,
          response: {
            200: {
              type: 'object',
              properties: {
                path: { type: 'string' },
                cid: { type: 'string' },
                type: { type: 'string' },
                entries: { type: 'array', items: Entry },
              },
            },
            ...ReadErrors,
          },
        },
      },
      async (req) => {
        const s = await ctx.vfs.stat(req.query.path)
        const entries = await ctx.vfs.ls(s.path)
        return { path: s.path, cid: s.cid.toString(), type: s.type, entries: entries.map(entryJson) }
      },
    )

    app.get<{ Querystring: { path: string } }>(
      '/api/vfs/stat',
      {
        schema: {
          tags: ['vfs'],
          summary: 'CID, type and sizes of a VFS path (`/` gives the root CID)',
          querystring: PathQuery,
          response: { 200: Stat, ...ReadErrors },
        },
      },
      async (req) => statJson(await ctx.vfs.stat(req.query.path)),
    )

    app.get<{ Querystring: { path: string; offset: number; length?: number; download: boolean } }>(
      '/api/vfs/read',
      {
        schema: {
          tags: ['vfs'],
          summary: "a file's bytes, streamed; optionally from offset for length bytes",
          querystring: {
            type: 'object',
            properties: {
              path: VFS_PATH,
              offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
              length: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
              download: {
                type: 'boolean',
                default: false,
                description: 'answer with Content-Disposition: attachment',
              },
            },
            required: ['path'],
          },
          response: {
            200: { description: 'the bytes', type: 'string', format: 'binary' },
            ...ReadFileErrors,
          },
        },
      },
      async (req, reply) => readFile(ctx, reply, req.query),
    )

    app.post<{
      Querystring: {
        path: string
        offset?: number
        create: boolean
        truncate: boolean
        parents: boolean
        cid_version?: 0 | 1
        pin: boolean
      }
    }>(
      '/api/vfs/write',
      {
        schema: {
          ...mutating,
          summary:
            'write the request body (application/octet-stream) into a file, as `ipfs files write`; optionally pin the file (needs the token)',
          consumes: ['application/octet-stream'],
          'x-doc-body': { type: 'string', format: 'binary' },
          querystring: {
            type: 'object',
            properties: {
              path: VFS_ENTRY_PATH,
              offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
              create: { type: 'boolean', default: true },
              truncate: { type: 'boolean', default: false },
              parents: { type: 'boolean', default: false },
              cid_version: CID_VERSION,
              pin: {
                type: 'boolean',
                default: false,
                description: 'pin the written file (the daemon replicates it as any pin)',
              },
            },
            required: ['path'],
          },
          response: {
            201: {
              type: 'object',
              properties: {
                path: { type: 'string' },
                cid: { type: 'string' },
                size: { type: 'number' },
                root: { type: 'string' },
                pinned: { type: 'boolean' },
              },
              required: ['path', 'cid', 'size', 'root', 'pinned'],
            },
            ...WriteErrors,
            413: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        if (req.headers['content-type'] !== 'application/octet-stream') {
          throw new IpfsKitError(
            'ERR_INVALID_INPUT',
            'send the bytes as the body with Content-Type: application/octet-stream',
          )
        }
        const q = req.query
        const written = await ctx.vfs.write(q.path, boundedBody(req, ctx.config.server.max_upload_size), {
          offset: q.offset,
          create: q.create,
          truncate: q.truncate,
          parents: q.parents,
          cidVersion: q.cid_version,
          maxPadding: ctx.config.server.max_upload_size,
        })
        const cid = written.cid.toString()
        if (q.pin) recordLocalPin(ctx.repo, cid, written.path.split('/').pop())
        return reply.code(201).send({
          path: written.path,
          cid,
          size: written.size,
          root: ctx.vfs.root().toString(),
          pinned: q.pin,
        })
      },
    )

    app.post<{ Body: { path: string; parents?: boolean; cid_version?: 0 | 1 } }>(
      '/api/vfs/mkdir',
      {
        schema: {
          ...mutating,
          summary: 'make a directory (parents: also the missing ones above it, no error if it exists)',
          body: {
            type: 'object',
            properties: { path: VFS_PATH, parents: { type: 'boolean' }, cid_version: CID_VERSION },
            required: ['path'],
            additionalProperties: false,
          },
          response: { 201: Changed, ...WriteErrors },
        },
      },
      async (req, reply) => {
        const b = req.body
        const made = await ctx.vfs.mkdir(b.path, { parents: b.parents, cidVersion: b.cid_version })
        return reply.code(201).send(changed(ctx, { path: made.path }))
      },
    )

    app.post<{ Body: { path: string; recursive?: boolean; force?: boolean } }>(
      '/api/vfs/rm',
      {
        schema: {
          ...mutating,
          summary: 'remove a file, or a directory with recursive (force: no error if it does not exist)',
          body: {
            type: 'object',
            properties: { path: VFS_ENTRY_PATH, recursive: { type: 'boolean' }, force: { type: 'boolean' } },
            required: ['path'],
            additionalProperties: false,
          },
          response: { 200: Changed, ...WriteErrors },
        },
      },
      async (req) => {
        const b = req.body
        const r = await ctx.vfs.rm(b.path, { recursive: b.recursive, force: b.force })
        return changed(ctx, { path: r.path, removed: r.removed })
      },
    )

    app.post<{ Body: { from: string; to: string } }>(
      '/api/vfs/mv',
      {
        schema: {
          ...mutating,
          summary: 'move or rename (a destination ending in / moves into that directory)',
          body: {
            type: 'object',
            properties: { from: VFS_ENTRY_PATH, to: VFS_PATH },
            required: ['from', 'to'],
            additionalProperties: false,
          },
          response: { 200: Changed, ...WriteErrors },
        },
      },
      async (req) => {
        const r = await ctx.vfs.mv(req.body.from, req.body.to)
        return changed(ctx, { path: r.to, from: r.from })
      },
    )

    app.post<{ Body: { from: string; to: string; parents?: boolean; force?: boolean } }>(
      '/api/vfs/cp',
      {
        schema: {
          ...mutating,
          summary: 'copy /ipfs/<cid>[/path] or another VFS path to a VFS path: a link, no data is copied',
          body: {
            type: 'object',
            properties: {
              from: VFS_SOURCE,
              to: VFS_PATH,
              parents: { type: 'boolean' },
              force: { type: 'boolean' },
            },
            required: ['from', 'to'],
            additionalProperties: false,
          },
          response: { 201: Changed, ...WriteErrors },
        },
      },
      async (req, reply) => {
        const b = req.body
        const r = await ctx.vfs.cp(b.from, b.to, { parents: b.parents, force: b.force })
        return reply.code(201).send(changed(ctx, { path: r.to, from: r.from, cid: r.cid.toString() }))
      },
    )

    app.post<{ Body: { path?: string } }>(
      '/api/vfs/flush',
      {
        schema: {
          ...mutating,
          summary: "the CID of a path; every change is already durable (Kubo's `files flush`)",
          // the body is optional: POST without one flushes "/"
          'x-body-optional': true,
          body: {
            type: ['object', 'null'],
            properties: { path: VFS_PATH },
            additionalProperties: false,
          },
          response: { 200: Changed, ...WriteErrors },
        },
      },
      async (req) => {
        const path = req.body?.path ?? '/'
        const cid = await ctx.vfs.flush(path)
        return changed(ctx, { path, cid: cid.toString() })
      },
    )
  }
}

/** The answer of every change: what it did, and the new root CID. */
const Changed = {
  type: 'object',
  properties: {
    path: { type: 'string' },
    from: { type: 'string' },
    cid: { type: 'string' },
    removed: { type: 'boolean' },
    root: { type: 'string' },
  },
  required: ['path', 'root'],
} as const

function changed<T extends Record<string, unknown>>(ctx: ServerContext, fields: T): T & { root: string } {
  return { ...fields, root: ctx.vfs.root().toString() }
}

async function readFile(
  ctx: ServerContext,
  reply: FastifyReply,
  q: { path: string; offset: number; length?: number; download: boolean },
): Promise<FastifyReply> {
  // one snapshot: the file's CID now, read through the content core (a change after this is not seen)
  const s = await ctx.vfs.stat(q.path)
  if (s.type === 'directory') throw new VfsTypeError(`${s.path} is a directory: list it with /api/vfs/ls`)
  const name = s.path.split('/').pop() ?? 'file'
  const cid = s.cid.toString()
  reply.header('x-ipfs-path', `/ipfs/${cid}`)
  reply.header('etag', `"${cid}"`)
  if (q.download)
    reply.header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
  const type = typeFromName(name) ?? 'application/octet-stream'
  const window = q.offset > 0 || q.length != null
  const start = Math.min(q.offset, s.size)
  const size = window ? Math.min(s.size - start, q.length ?? Number.MAX_SAFE_INTEGER) : s.size
  return sendRanged(reply, {
    size,
    type,
    head: false,
    read: (offset, length) => cat(ctx.store, cid, { offset: start + offset, length }),
  })
}
