import type { FastifyPluginAsync } from 'fastify'
import type { ServerContext } from '../context.ts'
import { ManagementErrors, NameParam, Passthrough } from './schemas.ts'

/** /api/backends: list, health, start, stop, logs and health history, through the daemon. */
export function backendRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    const schema = (summary: string, extra: Record<string, unknown> = {}) => ({
      tags: ['backends'],
      summary,
      response: { 200: Passthrough, ...ManagementErrors, 404: ManagementErrors[400] },
      ...extra,
    })
    app.get(
      '/api/backends',
      { schema: schema('every backend with its run state and last probe') },
      async () => (await ctx.daemon.client()).backends(),
    )
    app.get<{ Querystring: { probe?: boolean } }>(
      '/api/backends/health',
      {
        schema: schema('health of every backend (probe=true probes now)', {
          querystring: { type: 'object', properties: { probe: { type: 'boolean', default: false } } },
        }),
      },
      async (req) => (await ctx.daemon.client()).backendsHealth(req.query.probe === true),
    )
    for (const action of ['start', 'stop'] as const) {
      app.post<{ Params: { name: string } }>(
        `/api/backends/:name/${action}`,
        {
          schema: schema(`${action} a backend (needs the token)`, {
            params: NameParam,
            security: [{ bearer: [] }],
          }),
        },
        async (req) => {
          const client = await ctx.daemon.client()
          return action === 'start'
            ? client.startBackend(req.params.name)
            : client.stopBackend(req.params.name)
        },
      )
    }
    app.get<{ Params: { name: string } }>(
      '/api/backends/:name/health/history',
      { schema: schema("a backend's recent probes", { params: NameParam }) },
      async (req) => (await ctx.daemon.client()).healthHistory(req.params.name),
    )
    app.get<{ Params: { name: string }; Querystring: { lines: number } }>(
      '/api/backends/:name/logs',
      {
        schema: schema("the tail of a backend's log (or the daemon's: name=daemon)", {
          params: NameParam,
          querystring: {
            type: 'object',
            properties: { lines: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } },
          },
        }),
      },
      async (req) => (await ctx.daemon.client()).logs(req.params.name, req.query.lines),
    )
  }
}
