import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import { checkBackendEntry, configFileSchema } from '../../../backends/registry.ts'
import {
  keepSecrets,
  readConfigFile,
  redactConfig,
  validateConfig,
  writeConfigFile,
} from '../../../config/config.ts'
import { TooManyClientsError } from '../../../errors.ts'
import type { Daemon } from '../../daemon.ts'
import { SseClients } from '../../events.ts'
import { ErrorBody } from '../errors.ts'

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody }

/** /health, /status, /config, /logs, /events, /metrics and /openapi.json. */
export function systemRoutes(daemon: Daemon, root: FastifyInstance): FastifyPluginAsync {
  return async (app) => {
    const sse = new SseClients(daemon.events, () => daemon.config.max_sse_clients)

    app.get(
      '/health',
      {
        schema: {
          summary: 'Liveness: the daemon answers',
          response: {
            200: {
              type: 'object',
              properties: {
                status: { type: 'string' },
                version: { type: 'string' },
                uptime_s: { type: 'number' },
                pid: { type: 'integer' },
                instance: { type: 'string', description: 'a nonce of this start, also in <data>/daemon.pid' },
              },
            },
          },
        },
      },
      async () => ({
        status: 'ok',
        version: daemon.version,
        uptime_s: (Date.now() - daemon.startedAt) / 1000,
        pid: process.pid,
        instance: daemon.instance,
      }),
    )

    app.get(
      '/status',
      { schema: { summary: 'Version, uptime, pid, data directory and counts' } },
      async () => {
        const backends = daemon.supervisor.list()
        return {
          version: daemon.version,
          pid: process.pid,
          uptime_s: (Date.now() - daemon.startedAt) / 1000,
          data_dir: daemon.repo.dir,
          pins: daemon.repo.pins.counts(),
          blocks: daemon.repo.blocks.index.totals(),
          backends: {
            total: backends.length,
            running: backends.filter((b) => b.state === 'running').length,
            healthy: backends.filter((b) => b.health?.status === 'healthy').length,
          },
          replication: { running: daemon.reconciler.busy, last: daemon.reconciler.last ?? null },
        }
      },
    )

    app.get<{ Querystring: { origin?: boolean } }>(
      '/config',
      {
        schema: {
          summary: 'The effective config in use; with ?origin=true, also the layer each value came from',
          description:
            'Layers, lowest first: default < file (config.json) < env (IPFS_KIT_*) < flag (daemon start-up flags). ' +
            'host and port are the ones the API listens on. pending_restart lists keys changed since start that apply at the next start.',
          querystring: { type: 'object', properties: { origin: { type: 'boolean', default: false } } },
        },
      },
      async (req) =>
        req.query.origin
          ? {
              config: redactConfig(daemon.config),
              origins: daemon.configOrigins,
              pending_restart: daemon.pendingRestart,
            }
          : redactConfig(daemon.config),
    )

    app.put<{ Body: Record<string, unknown> }>(
      '/config',
      {
        schema: {
          summary: 'Change config.json keys, then reload every layer; intervals and log level apply at once',
          body: { type: 'object' },
          // the document names every key; validateConfig checks them (its messages name the key and
          // the layer), so the body above stays open for it
          'x-doc-body': configFileSchema(),
          response: { 400: ErrorBody, 401: ErrorBody },
        },
      },
      async (req) => {
        const current = readConfigFile(daemon.repo.dir)
        const next = keepSecrets({ ...current, ...req.body }, current)
        validateConfig(next, 'PUT /config')
        if (Array.isArray(next.backends)) {
          for (const [i, b] of (next.backends as Record<string, unknown>[]).entries()) {
            checkBackendEntry(b, `backends[${i}]`)
          }
        }
        writeConfigFile(daemon.repo.dir, next)
        // of the keys waiting for a restart, the ones this change touched
        const restart_needed = daemon.reloadConfig().restart_needed.filter((k) => k in req.body)
        if ('backends' in req.body) await daemon.applyBackends()
        // a key the environment or a start-up flag sets keeps that value: say so rather than "applied"
        const overridden = Object.keys(req.body).filter((k) => {
          const origin = daemon.configOrigins[k]
          return origin === 'env' || origin === 'flag'
        })
        return { config: redactConfig(daemon.config), restart_needed, overridden }
      },
    )

    app.get<{ Params: { name: string }; Querystring: { lines: number } }>(
      '/logs/:name',
      {
        schema: {
          summary: 'The last lines of the daemon log or a backend log',
          params: {
            type: 'object',
            properties: { name: { type: 'string', maxLength: 64 } },
            required: ['name'],
          },
          querystring: {
            type: 'object',
            properties: { lines: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 } },
          },
          response: errors,
        },
      },
      async (req) => {
        if (req.params.name !== 'daemon') daemon.supervisor.get(req.params.name)
        return { name: req.params.name, lines: await daemon.logs.tail(req.params.name, req.query.lines) }
      },
    )

    app.get(
      '/events',
      {
        schema: {
          summary:
            'Server-Sent Events: health, pin, replica and replication changes (at most max_sse_clients; a client that falls behind is dropped)',
          response: {
            200: {
              description: 'an event stream: `data: {json}` per event, `: comment` keep-alives',
              // each event's data is one JSON object (its type says which)
              content: { 'text/event-stream': { schema: { type: 'object' } } },
            },
            503: ErrorBody,
          },
        },
      },
      (req, reply) => {
        if (sse.full) {
          throw new TooManyClientsError(
            `${sse.size} event streams are open (max_sse_clients = ${daemon.config.max_sse_clients}): close one, or raise max_sse_clients`,
          )
        }
        reply.hijack()
        sse.attach(req.raw, reply.raw)
      },
    )

    const metrics = buildMetrics(daemon)
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics',
          response: {
            200: {
              description: 'the Prometheus text format, version 0.0.4',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (_req, reply) => {
        reply.header('content-type', metrics.contentType)
        return metrics.metrics()
      },
    )

    app.get('/openapi.json', { schema: { hide: true } }, async () => root.swagger())
  }
}

function buildMetrics(daemon: Daemon): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'ipfs_kit_' })
  new Gauge({
    name: 'ipfs_kit_pins',
    help: 'Pins by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      for (const [status, n] of Object.entries(daemon.repo.pins.counts())) this.set({ status }, n)
    },
  })
  new Gauge({
    name: 'ipfs_kit_replicas',
    help: 'Replicas by backend and state',
    labelNames: ['backend', 'state'],
    registers: [registry],
    collect() {
      this.reset()
      for (const r of daemon.repo.replicas.summary()) this.set({ backend: r.backend, state: r.state }, r.n)
    },
  })
  new Gauge({
    name: 'ipfs_kit_backend_up',
    help: '1 when a backend is running and healthy or degraded',
    labelNames: ['backend', 'type'],
    registers: [registry],
    collect() {
      for (const b of daemon.supervisor.list())
        this.set({ backend: b.name, type: b.type }, daemon.supervisor.usable(b.name) ? 1 : 0)
    },
  })
  new Gauge({
    name: 'ipfs_kit_backend_probe_latency_ms',
    help: 'Latency of the last health probe',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      for (const b of daemon.supervisor.list())
        if (b.health != null) this.set({ backend: b.name }, b.health.latencyMs)
    },
  })
  new Gauge({
    name: 'ipfs_kit_blockstore_bytes',
    help: 'Bytes of blocks in the local blockstore',
    registers: [registry],
    collect() {
      this.set(daemon.repo.blocks.index.totals().bytes)
    },
  })
  return registry
}
