import type { FastifyPluginAsync } from 'fastify'
import type { Policy } from '../../client/daemon-client.ts'
import { parseCid } from '../../content/cid.ts'
import { CID_LIST, CID_STRING } from '../../http/formats.ts'
import type { ServerContext } from '../context.ts'
import { placePin } from '../placement.ts'
import { ManagementErrors, Passthrough, PolicySchema } from './schemas.ts'

const CidParam = {
  type: 'object',
  properties: { cid: CID_STRING },
  required: ['cid'],
} as const

/** /api/pins: pin management through the daemon; new pins are placed with the pin index. */
export function pinRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { status?: string; cid?: string; name?: string; limit?: number } }>(
      '/api/pins',
      {
        schema: {
          tags: ['pins'],
          summary: 'list pins (filters: status, cid, name; limit)',
          querystring: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['queued', 'pinning', 'pinned', 'failed'] },
              cid: CID_LIST,
              name: { type: 'string', maxLength: 255 },
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
            },
          },
          response: { 200: Passthrough, ...ManagementErrors },
        },
      },
      async (req) => (await ctx.daemon.client()).pins(req.query),
    )
    app.post<{ Body: { cid: string; name?: string; policy?: Policy } }>(
      '/api/pins',
      {
        schema: {
          tags: ['pins'],
          summary: 'pin a CID; placed on the backends the pin index suggests (needs the token)',
          security: [{ bearer: [] }],
          body: {
            type: 'object',
            properties: {
              cid: CID_STRING,
              name: { type: 'string', maxLength: 255 },
              policy: PolicySchema,
            },
            required: ['cid'],
            additionalProperties: false,
          },
          response: { 202: Passthrough, ...ManagementErrors },
        },
      },
      async (req, reply) => reply.code(202).send(await placePin(ctx, req.body)),
    )
    app.get<{ Params: { cid: string } }>(
      '/api/pins/:cid',
      {
        schema: {
          tags: ['pins'],
          summary: "one pin's status and replicas",
          params: CidParam,
          response: { 200: Passthrough, ...ManagementErrors },
        },
      },
      async (req) => (await ctx.daemon.client()).getPin(parseCid(req.params.cid).toString()),
    )
    app.delete<{ Params: { cid: string } }>(
      '/api/pins/:cid',
      {
        schema: {
          tags: ['pins'],
          summary: 'unpin a CID (needs the token)',
          security: [{ bearer: [] }],
          params: CidParam,
          response: { 202: { description: 'Removed', type: 'null' }, ...ManagementErrors },
        },
      },
      async (req, reply) => {
        await (await ctx.daemon.client()).unpin(parseCid(req.params.cid).toString())
        return reply.code(202).send()
      },
    )
  }
}
