import type { FastifyPluginAsync } from 'fastify'
import { backendEntrySchema, checkBackendEntry } from '../../../backends/registry.ts'
import { readConfigFile, writeConfigFile } from '../../../config/config.ts'
import { InvalidInputError, IpfsKitError } from '../../../errors.ts'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

/** A backend's name, as config.json requires it. */
const BACKEND_NAME = '^[a-z0-9][a-z0-9_-]{0,62}$'

/** The backend entries of config.json as they are on disk (no defaults filled in). */
function fileBackends(daemon: Daemon): {
  file: Record<string, unknown>
  backends: Record<string, unknown>[]
} {
  const file = readConfigFile(daemon.repo.dir)
  const backends = Array.isArray(file.backends) ? (file.backends as Record<string, unknown>[]) : []
  return { file, backends }
}

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

    app.post<{ Body: Record<string, unknown> & { name: string; type: string } }>(
      '/backends',
      {
        schema: {
          summary: 'Add a backend: saved in config.json and started at once',
          description:
            "The body is the backend's config entry: name, type and the type's own keys (see the README). " +
            'It is validated by its type before anything is saved. Credentials in it are never answered back.',
          body: {
            type: 'object',
            required: ['name', 'type'],
            properties: {
              name: { type: 'string', pattern: BACKEND_NAME },
              type: { type: 'string', minLength: 1, maxLength: 64 },
            },
            additionalProperties: true,
          },
          // the document names every type and its keys; the type's own schema checks them (its
          // messages name the key), so the body above stays open for it
          'x-doc-body': backendEntrySchema(),
          response: { 400: ErrorBody, 401: ErrorBody, 409: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const entry = req.body
        if (entry.name === 'local')
          throw new InvalidInputError('"local" is the embedded node: it always exists')
        checkBackendEntry(entry, `backends["${entry.name}"]`)
        const { file, backends } = fileBackends(daemon)
        if (
          backends.some((b) => b.name === entry.name) ||
          daemon.supervisor.all().some((b) => b.name === entry.name)
        ) {
          throw new IpfsKitError('ERR_BUSY', `a backend named "${entry.name}" exists: remove it first`)
        }
        writeConfigFile(daemon.repo.dir, { ...file, backends: [...backends, entry] })
        await daemon.applyBackends()
        reply.code(201)
        return { backend: daemon.supervisor.list().find((b) => b.name === entry.name) }
      },
    )

    app.delete<{ Params: { name: string } }>(
      '/backends/:name',
      {
        schema: {
          summary:
            'Remove a backend: stopped, forgotten and dropped from config.json; its replicas stop counting',
          params: {
            type: 'object',
            properties: { name: { type: 'string', pattern: BACKEND_NAME } },
            required: ['name'],
          },
          response: { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req) => {
        const { name } = req.params
        if (name === 'local')
          throw new InvalidInputError('"local" is the embedded node: it cannot be removed')
        const { file, backends } = fileBackends(daemon)
        if (!backends.some((b) => b.name === name)) {
          throw new IpfsKitError('ERR_NOT_FOUND', `no backend named "${name}" in config.json`)
        }
        writeConfigFile(daemon.repo.dir, { ...file, backends: backends.filter((b) => b.name !== name) })
        await daemon.applyBackends()
        return { removed: name }
      },
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
