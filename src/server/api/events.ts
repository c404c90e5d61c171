import type { FastifyPluginAsync } from 'fastify'
import { IpfsKitError } from '../../errors.ts'
import { drained } from '../../http/drain.ts'
import type { ServerContext } from '../context.ts'
import { ManagementErrors } from './schemas.ts'

/** Seconds between SSE comments that keep idle proxies and browsers from dropping the stream. */
const KEEPALIVE_MS = 15_000

/**
 * GET /api/events: the daemon's Server-Sent Events, relayed as they come. When the daemon goes
 * away the stream says so (`{"type":"daemon","status":"down"}`) and ends; EventSource reconnects.
 */
export function eventRoutes(ctx: ServerContext): FastifyPluginAsync {
  // streams open now: each holds one of the daemon's own (max_sse_clients there), and a socket here
  let open = 0
  return async (app) => {
    app.get(
      '/api/events',
      {
        schema: {
          tags: ['events'],
          summary:
            'Server-Sent Events relayed from the daemon (health, backend, pin, replica, replication, index)',
          produces: ['text/event-stream'],
          response: {
            200: {
              description: 'an event stream: `data: {json}` per event',
              content: { 'text/event-stream': { schema: { type: 'object' } } },
            },
            503: ManagementErrors[503],
          },
        },
      },
      async (_req, reply) => {
        const cap = ctx.config.server.max_sse_clients
        if (open >= cap) {
          throw new IpfsKitError(
            'ERR_TOO_MANY_CLIENTS',
            `${open} event streams are open (server.max_sse_clients = ${cap}): close one, or raise server.max_sse_clients`,
          )
        }
        const client = await ctx.daemon.client()
        await client.health() // a daemon that is down answers 503 here, before the stream starts
        const controller = new AbortController()
        // the response's close is the client going away (a GET's request has ended long before)
        reply.raw.once('close', () => controller.abort())
        open++
        reply.hijack()
        const res = reply.raw
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        })
        res.write(`data: ${JSON.stringify({ type: 'daemon', status: 'up' })}\n\n`)
        const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS)
        try {
          for await (const event of client.events(controller.signal)) {
            if (!res.write(`data: ${JSON.stringify(event)}\n\n`)) {
              await drained(res)
              if (controller.signal.aborted) break
            }
          }
        } catch (err) {
          ctx.log.warn({ err: (err as Error).message }, 'event relay ended')
        } finally {
          clearInterval(keepalive)
          open--
        }
        if (!controller.signal.aborted) {
          res.end(`data: ${JSON.stringify({ type: 'daemon', status: 'down' })}\n\n`)
        }
      },
    )
  }
}
