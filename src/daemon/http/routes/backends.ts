import type { FastifyPluginAsync } from 'fastify'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

const nameParam = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['name'],
} as const

/** /backends: list, health, start and stop. */
export function backendRoutes(daemon: Daemon): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/backends',
      { schema: { summary: 'Every backend with its type, run state and last health' } },
      async () => ({
        backends: daemon.supervisor.list(),
      }),
    )

    app.get<{ Querystring: { probe?: boolean } }>(
      '/backends/health',
      {
        schema: {
          summary: 'Health of every backend (probe=true probes now instead of returning the last probe)',
          querystring: { type: 'object', properties: { probe: { type: 'boolean' } } },
        },
      },
      async (req) => {
        if (req.query.probe) await daemon.supervisor.probeAll()
        return Object.fromEntries(
          daemon.supervisor
            .list()
            .map((b) => [b.name, { state: b.state, ...(b.health ?? { status: 'unknown' }) }]),
        )
      },
    )

    app.get<{ Params: { name: string } }>(
      '/backends/:name/health/history',
      {
        schema: {
          summary: 'Recent health probes of one backend',
          params: nameParam,
          response: { 404: ErrorBody },
        },
      },
      async (req) => ({ name: req.params.name, history: daemon.supervisor.history(req.params.name) }),
    )

    app.post<{ Params: { name: string } }>(
      '/backends/start/:name',
      {
        schema: {
          summary: 'Start a backend (remembered across restarts)',
          params: nameParam,
          response: { 401: ErrorBody, 404: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req) => ({ backend: await daemon.supervisor.start(req.params.name) }),
    )

    app.post<{ Params: { name: string } }>(
      '/backends/stop/:name',
      {
        schema: {
          summary: 'Stop a backend (remembered across restarts); its replicas stop counting',
          params: nameParam,
          response: { 401: ErrorBody, 404: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req) => ({ backend: await daemon.supervisor.stop(req.params.name) }),
    )
  }
}
