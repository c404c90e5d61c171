import type { FastifyPluginAsync } from 'fastify'
import { CID } from 'multiformats/cid'
import { parseCid } from '../../../content/cid.ts'
import { InvalidInputError, IpfsKitError } from '../../../errors.ts'
import type { PinRecord } from '../../../state/pins.ts'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

/** Our pin status -> the IPFS Pinning Service API's (queued, pinning, pinned, failed). */
function psaStatus(daemon: Daemon, pin: PinRecord): 'queued' | 'pinning' | 'pinned' | 'failed' {
  if (pin.status !== 'pinned') return pin.status
  return daemon.repo.replicas.of(pin.cid).some((r) => r.state === 'copying') ? 'pinning' : 'pinned'
}

/** A pin as the Pinning Service API's PinStatus (requestid is the CID), with our replication in `info`. */
function toPinStatus(daemon: Daemon, pin: PinRecord) {
  const d = daemon.reconciler.describe(pin)
  return {
    requestid: pin.cid,
    status: psaStatus(daemon, pin),
    created: new Date(pin.createdAt).toISOString(),
    pin: { cid: pin.cid, name: pin.name ?? undefined, origins: [], meta: {} },
    delegates: [],
    info: {
      size: pin.size,
      health: d.health,
      error: pin.error,
      policy: d.policy,
      verified: d.verified,
      replicas: d.replicas,
    },
  }
}

const cidParam = {
  type: 'object',
  properties: { cid: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['cid'],
} as const

const policySchema = {
  type: 'object',
  properties: {
    min_replicas: { type: 'integer', minimum: 1, maximum: 64 },
    max_replicas: { type: 'integer', minimum: 1, maximum: 64 },
    preferred: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
    excluded: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
  },
  additionalProperties: false,
} as const

interface PinBody {
  cid: string
  name?: string
  origins?: string[]
  meta?: Record<string, string>
  policy?: { min_replicas?: number; max_replicas?: number; preferred?: string[]; excluded?: string[] }
}

/** /pins: the IPFS Pinning Service API shape (so `ipfs pin remote` works), plus a replication policy. */
export function pinRoutes(daemon: Daemon): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { cid?: string; name?: string; status?: string; limit: number } }>(
      '/pins',
      {
        schema: {
          summary: 'List pins (Pinning Service API: cid, name, status filters; limit)',
          querystring: {
            type: 'object',
            properties: {
              cid: { type: 'string', maxLength: 20_000 },
              name: { type: 'string', maxLength: 255 },
              status: { type: 'string', maxLength: 64 },
              limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
            },
          },
          response: { 400: ErrorBody },
        },
      },
      async (req) => {
        const cids = req.query.cid?.split(',').map((c) => parseCid(c).toString())
        const statuses = req.query.status?.split(',')
        for (const s of statuses ?? []) {
          if (!['queued', 'pinning', 'pinned', 'failed'].includes(s)) {
            throw new InvalidInputError(`invalid status "${s}": use queued, pinning, pinned or failed`)
          }
        }
        let pins =
          cids != null
            ? cids.map((c) => daemon.repo.pins.get(c)).filter((p): p is PinRecord => p != null)
            : daemon.repo.pins.list()
        if (req.query.name != null) pins = pins.filter((p) => p.name === req.query.name)
        let results = pins.map((p) => toPinStatus(daemon, p))
        if (statuses != null) results = results.filter((r) => statuses.includes(r.status))
        return { count: results.length, results: results.slice(0, req.query.limit) }
      },
    )

    app.post<{ Body: PinBody }>(
      '/pins',
      {
        schema: {
          summary: 'Pin a CID with an optional replication policy',
          body: {
            type: 'object',
            properties: {
              cid: { type: 'string', minLength: 1, maxLength: 200 },
              name: { type: 'string', maxLength: 255 },
              origins: { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 20 },
              meta: { type: 'object', additionalProperties: { type: 'string', maxLength: 2000 } },
              policy: policySchema,
            },
            required: ['cid'],
          },
          response: { 400: ErrorBody, 401: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const cid = parseCid(req.body.cid)
        const p = req.body.policy
        const known = new Set(daemon.supervisor.all().map((b) => b.name))
        for (const name of [...(p?.preferred ?? []), ...(p?.excluded ?? [])]) {
          if (!known.has(name))
            throw new InvalidInputError(
              `unknown backend "${name}" in policy (known: ${[...known].join(', ')})`,
            )
        }
        if (p?.min_replicas != null && p.max_replicas != null && p.max_replicas < p.min_replicas) {
          throw new InvalidInputError('policy.max_replicas must be >= policy.min_replicas')
        }
        const existing = daemon.repo.pins.get(cid)
        daemon.repo.pins.add(cid, {
          name: req.body.name,
          status: existing?.status === 'pinned' ? 'pinned' : 'queued',
          policy: {
            minReplicas: p?.min_replicas,
            maxReplicas: p?.max_replicas,
            preferred: p?.preferred,
            excluded: p?.excluded,
          },
        })
        daemon.events.emit({ type: 'pin', cid: cid.toString(), action: 'added' })
        daemon.index.schedule()
        daemon.reconciler.enqueue(cid.toString())
        return reply.code(202).send(toPinStatus(daemon, daemon.repo.pins.get(cid)!))
      },
    )

    app.get<{ Params: { cid: string } }>(
      '/pins/:cid',
      {
        schema: {
          summary: 'One pin and its replicas',
          params: cidParam,
          response: { 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (req) => toPinStatus(daemon, mustGet(daemon, req.params.cid)),
    )

    app.delete<{ Params: { cid: string } }>(
      '/pins/:cid',
      {
        schema: {
          summary: 'Unpin a CID from every backend',
          params: cidParam,
          response: { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const pin = mustGet(daemon, req.params.cid)
        const root = CID.parse(pin.cid)
        for (const r of daemon.repo.replicas.of(pin.cid)) {
          await daemon.supervisor
            .get(r.backend)
            .unpin(root)
            .catch((err: Error) => daemon.log.warn({ err, backend: r.backend }, 'unpin failed'))
        }
        daemon.repo.pins.remove(pin.cid)
        daemon.reconciler.forget(pin.cid)
        daemon.events.emit({ type: 'pin', cid: pin.cid, action: 'removed' })
        daemon.index.schedule()
        return reply.code(202).send()
      },
    )
  }
}

function mustGet(daemon: Daemon, input: string): PinRecord {
  const cid = parseCid(input)
  const pin = daemon.repo.pins.get(cid)
  if (pin == null) throw new IpfsKitError('ERR_NOT_FOUND', `${cid} is not pinned`)
  return pin
}
