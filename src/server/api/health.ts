import type { FastifyPluginAsync } from 'fastify'
import type { ServerContext } from '../context.ts'

const HealthReply = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    version: { type: 'string' },
    uptime_s: { type: 'number' },
    pid: { type: 'integer' },
    instance: { type: 'string', description: "this start's nonce, as in <data>/server.pid" },
    data_dir: { type: 'string' },
    daemon: {
      type: 'object',
      properties: {
        available: { type: 'boolean' },
        url: { type: ['string', 'null'] },
        status: { type: 'string' },
        version: { type: 'string' },
        uptime_s: { type: 'number' },
        message: { type: 'string' },
      },
      required: ['available'],
    },
  },
  required: ['status', 'version', 'uptime_s', 'pid', 'daemon'],
} as const

/** The server's own health and the daemon's: `degraded` while the daemon is down (content still served). */
export async function serverHealth(ctx: ServerContext) {
  const url = (await ctx.daemon.url()) ?? null
  let daemon: Record<string, unknown>
  try {
    const h = await (await ctx.daemon.client()).health()
    daemon = { available: true, url, status: h.status, version: h.version, uptime_s: h.uptime_s }
  } catch (err) {
    daemon = { available: false, url, message: (err as Error).message }
  }
  return {
    status: daemon.available ? ('ok' as const) : ('degraded' as const),
    version: ctx.version,
    uptime_s: (Date.now() - ctx.startedAt) / 1000,
    pid: process.pid,
    instance: ctx.instance,
    data_dir: ctx.config.data_dir,
    daemon,
  }
}

/** GET /api/health. */
export function healthRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/health',
      {
        schema: {
          tags: ['system'],
          summary: "the server's health and the daemon's",
          response: { 200: HealthReply },
        },
      },
      async () => serverHealth(ctx),
    )
  }
}
