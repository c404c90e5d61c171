import { randomBytes } from 'node:crypto'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { explainNoSpace, IpfsKitError } from '../../errors.ts'

/** Error code -> HTTP status: the one table every route's errors go through. */
const STATUS: Record<string, number> = {
  ERR_INVALID_INPUT: 400,
  ERR_INVALID_CID: 400,
  ERR_INVALID_CAR: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_BUSY: 409,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_TOO_MANY_CLIENTS: 503,
  ERR_TIMEOUT: 504,
  ERR_BACKEND: 502,
  ERR_BLOCK_CORRUPT: 500,
  ERR_NO_SPACE: 507,
}

/** The JSON body of every error: `{ error: { code, message } }`. */
export const ErrorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        request_id: {
          type: 'string',
          description: 'on 500 answers: find the details in the daemon log by it',
        },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const

/**
 * Sends the answer for `err`. A 4xx carries its message (it tells the caller what to fix); a 500
 * carries only a generic message and a request id, because its message is internal (file paths,
 * library errors): `internal` logs the details under that id.
 */
export function sendError(
  reply: FastifyReply,
  err: unknown,
  internal: (err: unknown) => string = () => newRequestId(),
): FastifyReply {
  const { status, body } = errorAnswer(err, internal)
  return reply.code(status).send(body)
}

/** The status and `{ error: { code, message } }` body for `err` (see sendError). */
export function errorAnswer(
  err: unknown,
  internal: (err: unknown) => string = () => newRequestId(),
): { status: number; body: { error: { code: string; message: string; request_id?: string } } } {
  err = explainNoSpace(err)
  const status = statusOf(err)
  if (status === 500) {
    const requestId = internal(err)
    const code = err instanceof IpfsKitError ? err.code : 'ERR_INTERNAL'
    return {
      status,
      body: {
        error: {
          code,
          message: `internal error: the daemon log has the details under request id ${requestId}`,
          request_id: requestId,
        },
      },
    }
  }
  if (err instanceof IpfsKitError)
    return { status, body: { error: { code: err.code, message: err.message } } }
  const fe = err as FastifyError
  if (fe.validation != null) {
    const where = fe.validationContext ?? 'request'
    return {
      status: 400,
      body: { error: { code: 'ERR_INVALID_INPUT', message: `invalid ${where}: ${fe.message}` } },
    }
  }
  const code =
    status === 413 ? 'ERR_PAYLOAD_TOO_LARGE' : status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INVALID_INPUT'
  return { status, body: { error: { code, message: fe.message } } }
}

function statusOf(err: unknown): number {
  if (err instanceof IpfsKitError) return STATUS[err.code] ?? 500
  const fe = err as FastifyError
  if (fe.validation != null) return 400
  if (fe.statusCode != null && fe.statusCode >= 400 && fe.statusCode < 500) return fe.statusCode
  return 500
}

function newRequestId(): string {
  return randomBytes(8).toString('hex')
}

/** The API's error handler: 500s are logged to the daemon log with their request id. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply =>
    sendError(reply, err, logInternal(log, req))
}

/** Logs an internal error under a new request id, and returns the id for the answer. */
export function logInternal(log: Logger, req: FastifyRequest): (err: unknown) => string {
  return (e) => {
    const requestId = newRequestId()
    log.error({ err: e, requestId, method: req.method, url: req.url }, 'internal error')
    return requestId
  }
}
