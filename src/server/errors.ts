import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { DaemonApiError } from '../client/daemon-client.ts'
import { explainNoSpace, IpfsKitError } from '../errors.ts'

/** Error code -> HTTP status: the one table every server route's errors go through. */
const STATUS: Record<string, number> = {
  ERR_INVALID_INPUT: 400,
  ERR_INVALID_CID: 400,
  ERR_INVALID_CAR: 400,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_NOT_FOUND: 404,
  ERR_NOT_ACCEPTABLE: 406,
  ERR_PRECONDITION_FAILED: 412,
  ERR_BUSY: 409,
  ERR_EXISTS: 409,
  ERR_VFS_TYPE: 409,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_RANGE_NOT_SATISFIABLE: 416,
  ERR_NO_INDEX: 503,
  ERR_DAEMON_UNAVAILABLE: 503,
  ERR_TOO_MANY_CLIENTS: 503,
  ERR_TIMEOUT: 504,
  ERR_BLOCK_CORRUPT: 500,
  ERR_NOT_IMPLEMENTED: 501,
  ERR_NO_SPACE: 507,
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

/** The HTTP status of an error: the daemon's own status for its answers, else by code. */
export function statusOf(err: unknown): number {
  if (err instanceof DaemonApiError) return err.status
  if (err instanceof IpfsKitError) return STATUS[err.code] ?? 500
  const fe = err as FastifyError
  if (fe.validation != null) return 400
  if (fe.statusCode != null && fe.statusCode >= 400 && fe.statusCode < 500) return fe.statusCode
  return 500
}

/** `{ error: { code, message } }` for any error. */
export function errorPayload(err: unknown): { error: { code: string; message: string } } {
  if (err instanceof IpfsKitError) return { error: { code: err.code, message: err.message } }
  const fe = err as FastifyError
  if (fe.validation != null) {
    return {
      error: {
        code: 'ERR_INVALID_INPUT',
        message: `invalid ${fe.validationContext ?? 'request'}: ${fe.message}`,
      },
    }
  }
  const status = statusOf(err)
  const code =
    status === 413
      ? 'ERR_PAYLOAD_TOO_LARGE'
      : status === 404
        ? 'ERR_NOT_FOUND'
        : status < 500
          ? 'ERR_INVALID_INPUT'
          : 'ERR_INTERNAL'
  return { error: { code, message: (err as Error).message ?? String(err) } }
}

export function errorHandler(thrown: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const err = explainNoSpace(thrown)
  const status = statusOf(err)
  if (status >= 500 && !(err instanceof IpfsKitError)) req.log.error({ err }, 'unexpected error')
  return reply.code(status).send(errorPayload(err))
}
