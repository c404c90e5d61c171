import type { FastifyPluginAsync } from 'fastify'
import { type GcResult, gc } from '../../../content/gc.ts'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

const GcResultSchema = {
  type: 'object',
  properties: {
    removedBlocks: { type: 'integer' },
    removedBytes: { type: 'integer' },
    packsReclaimed: { type: 'integer' },
    damaged: { type: 'array', items: { type: 'string' } },
    deferred: { type: 'boolean' },
  },
}

/**
 * /repo/gc: garbage collection inside the daemon, so that the daemon closes its handles to the packs
 * gc deletes and reclaims the packs it wrote itself; progress goes to /events as `gc` events. Calls
 * while one runs join it.
 */
export function repoRoutes(daemon: Daemon): FastifyPluginAsync {
  let running: Promise<GcResult> | undefined
  const start = (): Promise<GcResult> => {
    running ??= gc(daemon.repo, {
      onProgress: (p) => daemon.events.emit({ type: 'gc', ...p }),
    })
      .then((r) => {
        daemon.events.emit({
          type: 'gc',
          phase: 'finished',
          removedBlocks: r.removedBlocks,
          removedBytes: r.removedBytes,
        })
        daemon.log.info(r, 'gc finished')
        return r
      })
      .catch((err: Error) => {
        daemon.events.emit({
          type: 'gc',
          phase: 'failed',
          removedBlocks: 0,
          removedBytes: 0,
          error: err.message,
        })
        throw err
      })
      .finally(() => {
        running = undefined
      })
    return running
  }
  return async (app) => {
    app.post<{ Body: { wait?: boolean } | undefined }>(
      '/repo/gc',
      {
        schema: {
          // the body is optional: POST without one takes the defaults
          'x-body-optional': true,
          summary:
            'Remove every block no pin reaches and reclaim disk space (wait=false: answer at once, follow /events)',
          body: {
            type: ['object', 'null'],
            properties: { wait: { type: 'boolean', default: true } },
            additionalProperties: false,
          },
          response: {
            200: GcResultSchema,
            202: { type: 'object', properties: { started: { type: 'boolean' } } },
            401: ErrorBody,
          },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const run = start()
        if (req.body?.wait === false) {
          run.catch(() => {})
          return reply.code(202).send({ started: true })
        }
        return run
      },
    )
  }
}
