import { PassThrough, Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import parseRange from 'range-parser'
import { drained } from '../../http/drain.ts'

export interface RangedBody {
  size: number
  type: string
  head: boolean
  /** The bytes [offset, offset + length), streamed. */
  read(offset: number, length: number): AsyncIterable<Uint8Array>
  /**
   * Called with each chunk of a whole or single-range body once the socket has written it (the
   * chunk's memory may then be reused: see SpanPool); never for a chunk a failed write may still hold.
   */
  release?(chunk: Uint8Array): void
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
  if (ranges == null || ranges === -2 || ranges.type !== 'bytes') {
    reply.header('content-length', size)
    if (body.head) return reply.code(200).send()
    return sendStream(reply, 200, body.read(0, size), body.release)
  }
  if (ranges.length === 1) {
    const { start, end } = ranges[0]!
    reply.header('content-range', `bytes ${start}-${end}/${size}`)
    reply.header('content-length', end - start + 1)
    if (body.head) return reply.code(206).send()
    return sendStream(reply, 206, body.read(start, end - start + 1), body.release)
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

/**
 * Streams `source` as the body. Without `release`, fastify pipes it. With it, the chunks are
 * written here, each with its own write callback (a pipe gives none), so a chunk is released only
 * after the socket has written it; a write that fails never releases its chunk.
 */
function sendStream(
  reply: FastifyReply,
  status: number,
  source: AsyncIterable<Uint8Array>,
  release: ((chunk: Uint8Array) => void) | undefined,
): FastifyReply {
  if (release == null) return reply.code(status).send(Readable.from(source, { objectMode: false }))
  reply.hijack()
  const res = reply.raw
  for (const [name, value] of Object.entries(reply.getHeaders()))
    if (value != null) res.setHeader(name, typeof value === 'number' ? String(value) : value)
  res.writeHead(status)
  void (async () => {
    try {
      for await (const chunk of source) {
        if (res.destroyed) break // the client went away: stop reading
        const more = res.write(chunk, (err) => {
          if (err == null) release(chunk)
        })
        if (!more) await drained(res)
      }
      res.end()
    } catch (err) {
      // headers are gone: all that is left is to cut the connection, as a failed pipe does
      if (!res.destroyed) reply.log.warn({ err }, 'body stream failed after the headers were sent')
      res.destroy()
    }
  })()
  return reply
}

/** A RangedBody reader over bytes already in memory (a single block). */
export function bytesReader(bytes: Uint8Array): RangedBody['read'] {
  return async function* (offset, length) {
    yield bytes.subarray(offset, offset + length)
  }
}
