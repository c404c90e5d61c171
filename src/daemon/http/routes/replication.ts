import type { FastifyPluginAsync } from 'fastify'
import { parseCid } from '../../../content/cid.ts'
import { CID_STRING } from '../../../http/formats.ts'
import type { Daemon } from '../../daemon.ts'
import { ReplicationTotals } from '../../replication-totals.ts'
import { ErrorBody } from '../errors.ts'

/** /replication: status and sync. */
export function replicationRoutes(daemon: Daemon): FastifyPluginAsync {
  return async (app) => {
    const health = new ReplicationTotals(
      daemon.repo,
      () =>
        daemon.supervisor
          .list()
          .filter((b) => daemon.supervisor.usable(b.name))
          .map((b) => b.name)
          .sort(),
      () => daemon.config.replication,
    )

    app.get<{ Querystring: { limit: number; after?: string } }>(
      '/replication/status',
      {
        schema: {
          summary:
            'Totals by health (counted in SQL, cached; totals_stale while a recount runs), replicas by ' +
            'backend and state, and one page of per-pin state in CID order (after=<last cid> for the next)',
          querystring: {
            type: 'object',
            properties: {
              limit: { type: 'integer', minimum: 0, maximum: 1000, default: 100 },
              after: CID_STRING,
            },
          },
          response: { 400: ErrorBody },
        },
      },
      async (req) => {
        const after = req.query.after == null ? undefined : parseCid(req.query.after).toString()
        const pins = req.query.limit === 0 ? [] : daemon.repo.pins.list({ after, limit: req.query.limit })
        const replicas = daemon.repo.replicas.ofMany(pins.map((p) => p.cid))
        const totals = await health.get()
        return {
          running: daemon.reconciler.busy,
          last_sync: daemon.reconciler.last ?? null,
          swept: daemon.reconciler.swept,
          totals: totals.totals,
          totals_at: new Date(totals.at).toISOString(),
          totals_stale: totals.stale,
          replicas: daemon.repo.replicas.summary(),
          pins: pins.map((p) => daemon.reconciler.describe(p, replicas.get(p.cid))),
          next: pins.length === req.query.limit ? (pins.at(-1)?.cid ?? null) : null,
        }
      },
    )

    app.post<{ Body: { verify?: boolean; wait?: boolean } | undefined }>(
      '/replication/sync',
      {
        schema: {
          // the body is optional: POST without one takes the defaults
          'x-body-optional': true,
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
