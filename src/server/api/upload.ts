import type { FastifyRequest } from 'fastify'
import { PayloadTooLargeError } from '../../errors.ts'

function tooLarge(limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`the upload is larger than server.max_upload_size (${limit} bytes)`)
}

/**
 * A request's raw body, streamed: refused with 413 before reading when Content-Length says it is
 * over `limit`, and as soon as more than `limit` bytes arrive when it does not say.
 */
export async function* boundedBody(req: FastifyRequest, limit: number): AsyncGenerator<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) throw tooLarge(limit)
  let n = 0
  for await (const chunk of req.raw as AsyncIterable<Buffer>) {
    n += chunk.length
    if (n > limit) throw tooLarge(limit)
    yield chunk
  }
}
