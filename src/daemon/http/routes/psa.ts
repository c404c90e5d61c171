import type { FastifyPluginAsync } from 'fastify'
import { parseCid } from '../../../content/cid.ts'
import { InvalidInputError, IpfsKitError } from '../../../errors.ts'
import { checkBearer } from '../../../http/auth.ts'
import {
  CID_LIST,
  CID_OR_TIME,
  CID_STRING,
  META_FILTER,
  MULTIADDR,
  STATUS_LIST,
} from '../../../http/formats.ts'
import type { ListedStatus, NameMatch, PinQuery, PinRecord } from '../../../state/pins.ts'
import type { ReplicaRecord } from '../../../state/replicas.ts'
import type { Daemon } from '../../daemon.ts'
import { errorAnswer, logInternal } from '../errors.ts'
import { cursor, LISTED, psaStatus, refuseRepeats, removePin } from './pins.ts'

/**
 * The IPFS Pinning Service API (https://ipfs.github.io/pinning-services-api-spec/), served under
 * `/psa` so that its `/pins` stays apart from the daemon's own: `ipfs pin remote service add kit
 * http://127.0.0.1:8887/psa <token>` points Kubo at it. A request is our pin (its requestid is the
 * CID); its status comes from the pin and its replication; `origins` are dialled to fetch the content
 * over bitswap; `delegates` are our embedded node's addresses.
 */

/** The spec's Failure: `{ error: { reason, details } }`. */
export const PSA_FAILURE = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { reason: { type: 'string' }, details: { type: 'string' } },
      required: ['reason'],
    },
  },
  required: ['error'],
} as const

const PinSchema = {
  type: 'object',
  properties: {
    cid: CID_STRING,
    name: { type: 'string', maxLength: 255 },
    origins: {
      type: 'array',
      items: MULTIADDR,
      maxItems: 20,
      uniqueItems: true,
    },
    meta: {
      type: 'object',
      additionalProperties: { type: 'string', maxLength: 2000 },
      maxProperties: 1000,
    },
  },
  required: ['cid'],
  additionalProperties: false,
} as const

const PinStatusSchema = {
  type: 'object',
  properties: {
    requestid: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'pinning', 'pinned', 'failed'] },
    created: { type: 'string', format: 'date-time' },
    pin: {
      type: 'object',
      properties: {
        cid: { type: 'string' },
        name: { type: 'string' },
        origins: { type: 'array', items: { type: 'string' } },
        meta: { type: 'object', additionalProperties: { type: 'string' } },
      },
      required: ['cid'],
    },
    delegates: { type: 'array', items: { type: 'string' } },
    info: { type: 'object', additionalProperties: { type: 'string' } },
  },
  required: ['requestid', 'status', 'created', 'pin', 'delegates'],
} as const

const requestidParam = {
  type: 'object',
  properties: { requestid: { type: 'string', minLength: 1, maxLength: 200 } },
  required: ['requestid'],
} as const

/** Error code -> the spec's `reason`. */
const REASONS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  500: 'INTERNAL_SERVER_ERROR',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
}

interface PsaPin {
  cid: string
  name?: string
  origins?: string[]
  meta?: Record<string, string>
}

/** A pin as the spec's PinStatus: `info` is a map of strings (Kubo's client decodes it as one). */
function toPsa(daemon: Daemon, pin: PinRecord, replicas: ReplicaRecord[] = daemon.repo.replicas.of(pin.cid)) {
  const d = daemon.reconciler.describe(pin, replicas)
  const info: Record<string, string> = { health: d.health, verified: d.verified.join(',') }
  if (pin.error != null) info.error = pin.error
  if (pin.size != null) info.size = String(pin.size)
  return {
    requestid: pin.cid,
    status: psaStatus(pin, replicas),
    created: new Date(pin.createdAt).toISOString(),
    pin: {
      cid: pin.cid,
      ...(pin.name != null ? { name: pin.name } : {}),
      origins: pin.origins,
      meta: pin.meta,
    },
    delegates: daemon.delegates(),
    info,
  }
}

async function checkOrigins(origins: string[] | undefined): Promise<void> {
  if (origins == null || origins.length === 0) return
  const { multiaddr } = await import('@multiformats/multiaddr')
  for (const o of origins) {
    try {
      multiaddr(o)
    } catch (err) {
      throw new InvalidInputError(`invalid origin "${o}": not a multiaddr (${(err as Error).message})`)
    }
  }
}

/** Records a pin request and queues its replication (the content is fetched from `origins` when needed). */
async function addPin(daemon: Daemon, body: PsaPin): Promise<PinRecord> {
  const cid = parseCid(body.cid)
  const pins = daemon.repo.pins
  const pin = await daemon.pinWrites.run(() => {
    const existing = pins.get(cid)
    pins.add(cid, {
      name: body.name,
      origins: body.origins,
      meta: body.meta,
      status: existing?.status === 'pinned' ? 'pinned' : 'queued',
    })
    return pins.get(cid)!
  })
  daemon.events.emit({ type: 'pin', cid: cid.toString(), action: 'added' })
  daemon.index.schedule()
  daemon.reconciler.enqueue(cid.toString())
  return pin
}

export function psaRoutes(daemon: Daemon, token: string): FastifyPluginAsync {
  return async (app) => {
    // every PSA call needs the token, reads too (the spec's bearer auth)
    app.addHook('onRequest', async (req) => {
      checkBearer(req.headers.authorization, token)
    })
    // the spec's Failure body instead of the daemon's { error: { code, message } }
    app.setErrorHandler((err, req, reply) => {
      const { status, body } = errorAnswer(err, logInternal(daemon.log, req))
      return reply
        .code(status)
        .send({ error: { reason: REASONS[status] ?? body.error.code, details: body.error.message } })
    })

    const errors = { 400: PSA_FAILURE, 401: PSA_FAILURE, 404: PSA_FAILURE }

    app.get<{
      Querystring: {
        cid?: string
        name?: string
        match?: NameMatch
        status?: string
        before?: string
        after?: string
        limit: number
        meta?: string
      }
    }>(
      '/pins',
      {
        schema: {
          tags: ['psa'],
          summary:
            'Pinning Service API: list pin requests, newest first (status defaults to pinned, as the spec says)',
          querystring: {
            type: 'object',
            properties: {
              cid: CID_LIST,
              name: { type: 'string', maxLength: 255 },
              match: { type: 'string', enum: ['exact', 'iexact', 'partial', 'ipartial'], default: 'exact' },
              status: STATUS_LIST,
              before: CID_OR_TIME,
              after: CID_OR_TIME,
              limit: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
              meta: META_FILTER,
            },
          },
          response: {
            200: {
              type: 'object',
              properties: { count: { type: 'integer' }, results: { type: 'array', items: PinStatusSchema } },
              required: ['count', 'results'],
            },
            ...errors,
          },
          security: [{ bearer: [] }],
        },
      },
      async (req) => {
        const q = req.query
        const statuses = (q.status ?? 'pinned').split(',') as ListedStatus[]
        for (const s of statuses) {
          if (!LISTED.includes(s))
            throw new InvalidInputError(`invalid status "${s}": use queued, pinning, pinned or failed`)
        }
        refuseRepeats(q.status, q.cid)
        const cids = q.cid?.split(',').map((c) => parseCid(c).toString())
        if (cids != null && cids.length > 10) throw new InvalidInputError('at most 10 CIDs per request')
        let meta: Record<string, string> | undefined
        if (q.meta != null) {
          try {
            meta = JSON.parse(q.meta) as Record<string, string>
          } catch {
            throw new InvalidInputError('invalid meta: expected a JSON object of strings')
          }
          if (
            meta == null ||
            typeof meta !== 'object' ||
            Array.isArray(meta) ||
            Object.values(meta).some((v) => typeof v !== 'string')
          ) {
            throw new InvalidInputError('invalid meta: expected a JSON object of strings')
          }
        }
        const query: PinQuery = {
          cids,
          name: q.name,
          match: q.match,
          statuses,
          meta,
          before: cursor(daemon, 'before', q.before),
          after: cursor(daemon, 'after', q.after),
        }
        const pins = daemon.repo.pins.page(query, q.limit)
        const replicas = daemon.repo.replicas.ofMany(pins.map((p) => p.cid))
        return {
          count: await daemon.repo.pins.countInSlices(query),
          results: pins.map((p) => toPsa(daemon, p, replicas.get(p.cid))),
        }
      },
    )

    app.post<{ Body: PsaPin }>(
      '/pins',
      {
        schema: {
          tags: ['psa'],
          summary: 'Pinning Service API: add a pin request',
          body: PinSchema,
          response: { 202: PinStatusSchema, ...errors },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        await checkOrigins(req.body.origins)
        return reply.code(202).send(toPsa(daemon, await addPin(daemon, req.body)))
      },
    )

    app.get<{ Params: { requestid: string } }>(
      '/pins/:requestid',
      {
        schema: {
          tags: ['psa'],
          summary: 'Pinning Service API: one pin request',
          params: requestidParam,
          response: { 200: PinStatusSchema, ...errors },
          security: [{ bearer: [] }],
        },
      },
      async (req) => toPsa(daemon, requestOf(daemon, req.params.requestid)),
    )

    app.post<{ Params: { requestid: string }; Body: PsaPin }>(
      '/pins/:requestid',
      {
        schema: {
          tags: ['psa'],
          summary:
            'Pinning Service API: replace a pin request (the old pin is removed once the new one is recorded)',
          params: requestidParam,
          body: PinSchema,
          response: { 202: PinStatusSchema, ...errors },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        const old = requestOf(daemon, req.params.requestid)
        await checkOrigins(req.body.origins)
        const next = await addPin(daemon, req.body)
        if (next.cid !== old.cid) await removePin(daemon, old)
        return reply.code(202).send(toPsa(daemon, next))
      },
    )

    app.delete<{ Params: { requestid: string } }>(
      '/pins/:requestid',
      {
        schema: {
          tags: ['psa'],
          summary: 'Pinning Service API: remove a pin request',
          params: requestidParam,
          response: { 202: { type: 'null' }, ...errors },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        await removePin(daemon, requestOf(daemon, req.params.requestid))
        return reply.code(202).send()
      },
    )
  }
}

/**
 * The pin a requestid names. A requestid is opaque to a client (ours are CIDs): one that is not a
 * CID names no request, so it is 404 as any unknown one, not a 400 about CIDs.
 */
function requestOf(daemon: Daemon, requestid: string): PinRecord {
  let cid: string
  try {
    cid = parseCid(requestid).toString()
  } catch {
    throw new IpfsKitError('ERR_NOT_FOUND', `no pin request ${JSON.stringify(requestid)}`)
  }
  const pin = daemon.repo.pins.get(cid)
  if (pin == null) throw new IpfsKitError('ERR_NOT_FOUND', `no pin request ${requestid}`)
  return pin
}
