import type { FastifyPluginAsync } from 'fastify'
import { add, roots } from '../../content/add.ts'
import { ls, stat } from '../../content/export.ts'
import { IpfsKitError } from '../../errors.ts'
import { IPFS_PATH } from '../../http/formats.ts'
import type { ServerContext } from '../context.ts'
import { ErrorBody } from '../errors.ts'
import { boundedBody } from './upload.ts'

const Entry = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    cid: { type: 'string' },
    size: { type: 'number' },
    type: { type: 'string' },
  },
} as const

/**
 * /api/content: list and stat content by path, and upload a file (the body, streamed into the
 * blockstore and pinned). What the dashboard's content browser uses; works without the daemon.
 */
export function contentRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload))
    app.get<{ Querystring: { path: string } }>(
      '/api/content/ls',
      {
        schema: {
          tags: ['content'],
          summary: 'the entries of a directory (a file lists as itself)',
          querystring: {
            type: 'object',
            properties: { path: IPFS_PATH },
            required: ['path'],
          },
          response: {
            200: {
              type: 'object',
              properties: {
                path: { type: 'string' },
                type: { type: 'string' },
                entries: { type: 'array', items: Entry },
              },
            },
            400: ErrorBody,
            404: ErrorBody,
          },
        },
      },
      async (req) => {
        const s = await stat(ctx.store, req.query.path)
        const entries = await ls(ctx.store, req.query.path)
        return {
          path: req.query.path,
          type: s.type,
          entries: entries.map((e) => ({
            name: e.name,
            cid: e.cid.toString(),
            size: Number(e.size),
            type: e.type,
          })),
        }
      },
    )
    app.post<{ Querystring: { name?: string; pin: boolean } }>(
      '/api/content',
      {
        schema: {
          tags: ['content'],
          summary:
            'add the request body as a file (application/octet-stream), Kubo-identical CID, pinned (needs the token)',
          security: [{ bearer: [] }],
          consumes: ['application/octet-stream'],
          // the body is the file's bytes, streamed (the route has no JSON body to validate)
          'x-doc-body': { type: 'string', format: 'binary' },
          querystring: {
            type: 'object',
            properties: {
              name: { type: 'string', maxLength: 255 },
              pin: { type: 'boolean', default: true },
            },
          },
          response: {
            201: {
              type: 'object',
              properties: { cid: { type: 'string' }, size: { type: 'number' }, name: { type: 'string' } },
            },
            400: ErrorBody,
            401: ErrorBody,
            413: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        if (req.headers['content-type'] !== 'application/octet-stream') {
          throw new IpfsKitError(
            'ERR_INVALID_INPUT',
            'send the file as the body with Content-Type: application/octet-stream',
          )
        }
        const entries = await add(
          ctx.repo,
          { stream: boundedBody(req, ctx.config.server.max_upload_size), name: req.query.name },
          { pin: req.query.pin },
        )
        const root = roots(entries)[0]!
        return reply
          .code(201)
          .send({ cid: root.cid.toString(), size: Number(root.size), name: req.query.name ?? '' })
      },
    )
  }
}
