import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { IpfsKitError } from '../../errors.ts'

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
  ERR_BLOCK_CORRUPT: 500,
}

/** The JSON body of every error: `{ error: { code, message } }`. */
export const ErrorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof IpfsKitError) {
    return reply.code(STATUS[err.code] ?? 500).send({ error: { code: err.code, message: err.message } })
  }
  const fe = err as FastifyError
  if (fe.validation != null) {
    const where = fe.validationContext ?? 'request'
    return reply
      .code(400)
      .send({ error: { code: 'ERR_INVALID_INPUT', message: `invalid ${where}: ${fe.message}` } })
  }
  if (fe.statusCode != null && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code =
      fe.statusCode === 413
        ? 'ERR_PAYLOAD_TOO_LARGE'
        : fe.statusCode === 404
          ? 'ERR_NOT_FOUND'
          : 'ERR_INVALID_INPUT'
    return reply.code(fe.statusCode).send({ error: { code, message: fe.message } })
  }
  return reply
    .code(500)
    .send({ error: { code: 'ERR_INTERNAL', message: (err as Error).message ?? String(err) } })
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (!(err instanceof IpfsKitError) && (err as FastifyError).statusCode == null) {
    req.log.error({ err }, 'unexpected error')
  }
  return sendError(reply, err)
}
