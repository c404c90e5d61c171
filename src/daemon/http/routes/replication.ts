import type { FastifyPluginAsync } from 'fastify'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

/** /replication: status and sync. */
export function replicationRoutes(daemon: Daemon): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { limit: number } }>(
      '/replication/status',
      {
        schema: {
          summary: 'Totals and per-pin replication state',
          querystring: {
            type: 'object',
            properties: { limit: { type: 'integer', minimum: 0, maximum: 100_000, default: 1000 } },
          },
        },
      },
      async (req) => {
        const pins = daemon.repo.pins.list()
        const described = pins.map((p) => daemon.reconciler.describe(p))
        const totals: Record<string, number> = { pins: pins.length }
        for (const d of described) totals[d.health] = (totals[d.health] ?? 0) + 1
        return {
          running: daemon.reconciler.busy,
          last_sync: daemon.reconciler.last ?? null,
          swept: daemon.reconciler.swept,
          totals,
          replicas: daemon.repo.replicas.summary(),
          pins: described.slice(0, req.query.limit),
        }
      },
    )

    app.post<{ Body: { verify?: boolean; wait?: boolean } | undefined }>(
      '/replication/sync',
      {
        schema: {
          summary:
            'Run a replication pass now (verify=true re-reads every replica; wait=true answers when done)',
          body: {
            type: ['object', 'null'],
            properties: { verify: { type: 'boolean' }, wait: { type: 'boolean' } },
            additionalProperties: false,
          },
          response: { 400: ErrorBody, 401: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const run = daemon.reconciler.sync({ verify: req.body?.verify === true })
        if (req.body?.wait === true) return { report: await run }
        run.catch(() => {})
        return reply.code(202).send({ started: true, pass: daemon.reconciler.pendingPass })
      },
    )
  }
}
