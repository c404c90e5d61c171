import type { FastifyPluginAsync } from 'fastify'
import type { DaemonClient, Json } from '../../client/daemon-client.ts'
import type { ServerContext } from '../context.ts'
import { serverHealth } from './health.ts'
import { ManagementErrors, Passthrough } from './schemas.ts'

/** Runs a daemon call for an aggregate; a failure becomes `{ error }` in its place instead of failing the page. */
async function part<T>(fn: () => Promise<T>): Promise<T | { error: { code: string; message: string } }> {
  try {
    return await fn()
  } catch (err) {
    const e = err as Error & { code?: string }
    return { error: { code: e.code ?? 'ERR_INTERNAL', message: e.message } }
  }
}

/** /api/dashboard/*: aggregates for the dashboard, one request per view. */
export function dashboardRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/dashboard/summary',
      {
        schema: {
          tags: ['dashboard'],
          summary: 'server and daemon health, backends, replication and storage per backend in one answer',
          response: { 200: Passthrough },
        },
      },
      async () => {
        const health = await serverHealth(ctx)
        const storage = await part(() => ctx.routes.stats())
        if (!health.daemon.available) {
          return {
            health,
            daemon: {
              available: false,
              message: 'the daemon is not running: start it with `ipfs-kit daemon start`',
            },
            storage,
          }
        }
        const client = await ctx.daemon.client()
        const [status, backends, replication] = await Promise.all([
          part(() => client.status()),
          part(() => client.backends()),
          part(() => client.replicationStatus(0)),
        ])
        return { health, daemon: { available: true, status }, backends, replication, storage }
      },
    )
    app.get<{ Querystring: { search?: string; status?: string; offset: number; limit: number } }>(
      '/api/dashboard/pins',
      {
        schema: {
          tags: ['dashboard'],
          summary: 'a page of pins, searched by CID or name',
          querystring: {
            type: 'object',
            properties: {
              search: { type: 'string', maxLength: 255 },
              status: { type: 'string', enum: ['queued', 'pinning', 'pinned', 'failed'] },
              offset: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
              limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            },
          },
          response: { 200: Passthrough, ...ManagementErrors },
        },
      },
      async (req) => {
        const { search, status, offset, limit } = req.query
        const client = await ctx.daemon.client()
        const page = await searchPins(client, search, status, offset + limit)
        return { total: page.count, offset, limit, results: page.results.slice(offset, offset + limit) }
      },
    )
    app.get<{ Params: { name: string } }>(
      '/api/dashboard/backends/:name/history',
      {
        schema: {
          tags: ['dashboard'],
          summary: "a backend's latency and health history, for its chart",
          params: {
            type: 'object',
            properties: { name: { type: 'string', maxLength: 64 } },
            required: ['name'],
          },
          response: { 200: Passthrough, ...ManagementErrors },
        },
      },
      async (req) => (await ctx.daemon.client()).healthHistory(req.params.name),
    )
  }
}

/** Pins whose CID or name contains the search text (case-insensitive), from the daemon's list. */
async function searchPins(
  client: DaemonClient,
  search: string | undefined,
  status: string | undefined,
  limit: number,
): Promise<{ count: number; results: Json[] }> {
  const text = search?.trim()
  const pageSize = Math.min(limit, 1000)
  if (text == null || text === '') return client.pins({ status, limit: pageSize })
  // a CID finds its pin; anything else is a case-insensitive part of a name, matched in SQL
  if (/^(Qm[1-9A-HJ-NP-Za-km-z]{44}|b[a-z2-7]{20,})$/.test(text)) {
    const byCid = await client.pins({ status, cid: text, limit: 1 }).catch(() => undefined)
    if (byCid != null && byCid.count > 0) return byCid
  }
  return client.pins({ status, name: text, match: 'ipartial', limit: pageSize })
}
