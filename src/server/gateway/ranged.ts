import { PassThrough, Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import parseRange from 'range-parser'

export interface RangedBody {
  size: number
  type: string
  head: boolean
  /** The bytes [offset, offset + length), streamed. */
  read(offset: number, length: number): AsyncIterable<Uint8Array>
}

/**
 * Answers with the whole body (200), one range (206) or several (206 multipart/byteranges). Bytes
 * are piped into the socket with backpressure, so memory stays bounded whatever the size.
 */
export function sendRanged(reply: FastifyReply, body: RangedBody): FastifyReply {
  const { size, type } = body
  reply.header('accept-ranges', 'bytes')
  const range = reply.request.headers.range
  const ranges = range != null && size > 0 ? parseRange(size, range, { combine: true }) : undefined
  if (ranges === -1) {
    reply.header('content-range', `bytes */${size}`)
    reply.header('content-type', 'application/json; charset=utf-8')
    return reply.code(416).send({
      error: {
        code: 'ERR_RANGE_NOT_SATISFIABLE',
        message: `range "${range}" is outside the content (${size} bytes)`,
      },
    })
  }
  reply.header('content-type', type)
  const stream = (offset: number, length: number) =>
    Readable.from(body.read(offset, length), { objectMode: false })
  if (ranges == null || ranges === -2 || ranges.type !== 'bytes') {
    reply.header('content-length', size)
    return reply.code(200).send(body.head ? undefined : stream(0, size))
  }
  if (ranges.length === 1) {
    const { start, end } = ranges[0]!
    reply.header('content-range', `bytes ${start}-${end}/${size}`)
    reply.header('content-length', end - start + 1)
    return reply.code(206).send(body.head ? undefined : stream(start, end - start + 1))
  }
  const boundary = `ipfs-kit-${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`
  const parts = ranges.map(({ start, end }) => ({
    start,
    end,
    head: Buffer.from(
      `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
    ),
  }))
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  reply.header('content-type', `multipart/byteranges; boundary=${boundary}`)
  reply.header(
    'content-length',
    parts.reduce((n, p) => n + p.head.length + (p.end - p.start + 1), tail.length),
  )
  if (body.head) return reply.code(206).send()
  const out = new PassThrough()
  const write = async (chunk: Uint8Array) => {
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r))
  }
  void (async () => {
    try {
      for (const p of parts) {
        await write(p.head)
        for await (const chunk of body.read(p.start, p.end - p.start + 1)) await write(chunk)
      }
      out.end(tail)
    } catch (err) {
      out.destroy(err as Error)
    }
  })()
  return reply.code(206).send(out)
}

/** A RangedBody reader over bytes already in memory (a single block). */
export function bytesReader(bytes: Uint8Array): RangedBody['read'] {
  return async function* (offset, length) {
    yield bytes.subarray(offset, offset + length)
  }
}
