import type { FastifyPluginAsync } from 'fastify'
import { CID } from 'multiformats/cid'
import { parseCid } from '../../../content/cid.ts'
import { InvalidInputError, IpfsKitError } from '../../../errors.ts'
import { CID_LIST, CID_OR_TIME, CID_STRING, MULTIADDR, STATUS_LIST } from '../../../http/formats.ts'
import type { ListedStatus, NameMatch, PinCursor, PinQuery, PinRecord } from '../../../state/pins.ts'
import type { ReplicaRecord } from '../../../state/replicas.ts'
import type { Daemon } from '../../daemon.ts'
import { ErrorBody } from '../errors.ts'

/** Our pin status -> the IPFS Pinning Service API's (queued, pinning, pinned, failed). */
export function psaStatus(pin: PinRecord, replicas: ReplicaRecord[]): ListedStatus {
  if (pin.status !== 'pinned') return pin.status
  return replicas.some((r) => r.state === 'copying') ? 'pinning' : 'pinned'
}

/** A pin as the Pinning Service API's PinStatus (requestid is the CID), with our replication in `info`. */
export function toPinStatus(daemon: Daemon, pin: PinRecord, replicas = daemon.repo.replicas.of(pin.cid)) {
  const d = daemon.reconciler.describe(pin, replicas)
  return {
    requestid: pin.cid,
    status: psaStatus(pin, replicas),
    created: new Date(pin.createdAt).toISOString(),
    pin: { cid: pin.cid, name: pin.name ?? undefined, origins: pin.origins, meta: pin.meta },
    delegates: daemon.delegates(),
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

export const LISTED: readonly ListedStatus[] = ['queued', 'pinning', 'pinned', 'failed']

/**
 * A `before`/`after` value: a timestamp (the Pinning Service API's: pins created before/after it)
 * or a requestid (a CID) from a previous page: pins listed after/before that one, each exactly once.
 */
export function cursor(daemon: Daemon, flag: string, value: string | undefined): PinCursor | undefined {
  if (value == null) return undefined
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const at = Date.parse(value)
    if (Number.isNaN(at))
      throw new InvalidInputError(`invalid ${flag} "${value}": use an ISO 8601 time or a CID`)
    return { at }
  }
  const cid = parseCid(value).toString()
  const pin = daemon.repo.pins.get(cid)
  // a cursor naming no pin names a resource that is not there: 404, as a lookup of it would be
  if (pin == null)
    throw new IpfsKitError(
      'ERR_NOT_FOUND',
      `${flag}: ${cid} is not pinned (use the requestid of a listed pin)`,
    )
  return { at: pin.createdAt, cid }
}

const cidParam = {
  type: 'object',
  properties: { cid: CID_STRING },
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
    app.get<{
      Querystring: {
        cid?: string
        name?: string
        match?: NameMatch
        status?: string
        before?: string
        after?: string
        limit: number
      }
    }>(
      '/pins',
      {
        schema: {
          summary:
            'List pins, newest first (Pinning Service API: cid, name, match, status, before, after, limit); ' +
            'page with before=<requestid of the last result>; count is every pin matching the filters',
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
            },
          },
          response: { 400: ErrorBody },
        },
      },
      async (req) => {
        const q = req.query
        const statuses = q.status?.split(',') as ListedStatus[] | undefined
        for (const s of statuses ?? []) {
          if (!LISTED.includes(s))
            throw new InvalidInputError(`invalid status "${s}": use queued, pinning, pinned or failed`)
        }
        refuseRepeats(q.status, q.cid)
        const cids = q.cid?.split(',').map((c) => parseCid(c).toString())
        if (cids != null && cids.length > 10) throw new InvalidInputError('at most 10 CIDs per request')
        const query: PinQuery = {
          cids,
          name: q.name,
          match: q.match,
          statuses,
          before: cursor(daemon, 'before', q.before),
          after: cursor(daemon, 'after', q.after),
        }
        const pins = daemon.repo.pins.page(query, q.limit)
        const replicas = daemon.repo.replicas.ofMany(pins.map((p) => p.cid))
        return {
          count: await daemon.repo.pins.countInSlices(query),
          results: pins.map((p) => toPinStatus(daemon, p, replicas.get(p.cid))),
        }
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
              cid: CID_STRING,
              name: { type: 'string', maxLength: 255 },
              origins: { type: 'array', items: MULTIADDR, maxItems: 20 },
              meta: { type: 'object', additionalProperties: { type: 'string', maxLength: 2000 } },
              policy: policySchema,
            },
            required: ['cid'],
            // a misspelt field (`polcy`) is an error, not a pin without its policy
            additionalProperties: false,
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
            throw new IpfsKitError(
              'ERR_NOT_FOUND',
              `no backend named "${name}" in policy (known: ${[...known].join(', ')})`,
            )
        }
        if (p?.min_replicas != null && p.max_replicas != null && p.max_replicas < p.min_replicas) {
          throw new InvalidInputError('policy.max_replicas must be >= policy.min_replicas')
        }
        const pins = daemon.repo.pins
        const pin = await daemon.pinWrites.run(() => {
          const existing = pins.get(cid)
          pins.add(cid, {
            name: req.body.name,
            origins: req.body.origins,
            meta: req.body.meta,
            status: existing?.status === 'pinned' ? 'pinned' : 'queued',
            policy: {
              minReplicas: p?.min_replicas,
              maxReplicas: p?.max_replicas,
              preferred: p?.preferred,
              excluded: p?.excluded,
            },
          })
          return pins.get(cid)!
        })
        daemon.events.emit({ type: 'pin', cid: cid.toString(), action: 'added' })
        daemon.index.schedule()
        daemon.reconciler.enqueue(cid.toString())
        return reply.code(202).send(toPinStatus(daemon, pin))
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
          response: {
            202: { description: 'Removed', type: 'null' },
            400: ErrorBody,
            401: ErrorBody,
            404: ErrorBody,
          },
          security: [{ bearer: [] }],
        },
      },
      async (req, reply) => {
        await removePin(daemon, mustGet(daemon, req.params.cid))
        return reply.code(202).send()
      },
    )
  }
}

/** How long `pin rm` waits for one backend's unpin before answering anyway (the sweep finishes it). */
export const UNPIN_DEADLINE_MS = 10_000

/**
 * Forgets the pin (durably, first: a crash after this never brings it back), then unpins it from
 * every backend that held a replica, in parallel, each within UNPIN_DEADLINE_MS. A backend that
 * hangs or fails holds up nothing: what it still keeps is no pin's, and the next sync's sweep of
 * that backend removes it.
 */
export async function removePin(
  daemon: Daemon,
  pin: PinRecord,
  deadlineMs = UNPIN_DEADLINE_MS,
): Promise<void> {
  const root = CID.parse(pin.cid)
  const holders = daemon.repo.replicas.of(pin.cid).map((r) => r.backend)
  daemon.repo.pins.remove(pin.cid)
  daemon.reconciler.forget(pin.cid)
  daemon.events.emit({ type: 'pin', cid: pin.cid, action: 'removed' })
  daemon.index.schedule()
  await Promise.all(
    holders.map(async (name) => {
      const backend = daemon.supervisor.all().find((b) => b.name === name)
      if (backend == null) return
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer after ${deadlineMs} ms: the next sync's sweep removes it`)),
          deadlineMs,
        )
      })
      try {
        await Promise.race([backend.unpin(root), deadline])
      } catch (err) {
        daemon.log.warn({ err, backend: name, cid: pin.cid }, 'unpin failed')
      } finally {
        clearTimeout(timer)
      }
    }),
  )
}

export function mustGet(daemon: Daemon, input: string): PinRecord {
  const cid = parseCid(input)
  const pin = daemon.repo.pins.get(cid)
  if (pin == null) throw new IpfsKitError('ERR_NOT_FOUND', `${cid} is not pinned`)
  return pin
}

/** The list filters are sets (the Pinning Service API's uniqueItems): a repeated status or CID is refused. */
export function refuseRepeats(status: string | undefined, cid: string | undefined): void {
  for (const [name, value] of [
    ['status', status],
    ['cid', cid],
  ] as const) {
    const items = value?.split(',') ?? []
    if (new Set(items).size !== items.length)
      throw new InvalidInputError(`invalid ${name} "${value}": a value is given twice`)
  }
}
