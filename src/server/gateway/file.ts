import { PassThrough, Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { UnixFSEntry } from 'ipfs-unixfs-exporter'
import parseRange from 'range-parser'
import { cat } from '../../content/export.ts'
import type { ServerContext } from '../context.ts'
import { SNIFF_BYTES, typeFromBytes, typeFromName } from './content-type.ts'

export interface FileResponse {
  entry: UnixFSEntry
  /** `<cid>/a/b`, as the content core takes it. */
  path: string
  /** The name that decides the Content-Type, when it has an extension. */
  name: string | undefined
  etag: string
  head: boolean
  signal: AbortSignal
  disposition: string | undefined
  /** Sends 304 and returns true when If-None-Match names `etag`. */
  notModified(etag: string): boolean
}

/**
 * A UnixFS file: whole (200), one range (206) or several (206 multipart/byteranges); bytes stream
 * from the blockstore into the socket with backpressure, so memory stays bounded for any size.
 */
export async function sendFile(
  ctx: ServerContext,
  reply: FastifyReply,
  f: FileResponse,
): Promise<FastifyReply> {
  if (f.notModified(f.etag)) return reply
  const size = Number(f.entry.size)
  const type = typeFromName(f.name) ?? (await sniff(ctx, f))
  reply.header('content-type', type)
  reply.header('accept-ranges', 'bytes')
  if (f.disposition != null) reply.header('content-disposition', f.disposition)
  const range = reply.request.headers.range
  const ranges = range != null ? parseRange(size, range, { combine: true }) : undefined
  if (ranges === -1) {
    reply.header('content-range', `bytes */${size}`)
    return reply.code(416).send({
      error: {
        code: 'ERR_RANGE_NOT_SATISFIABLE',
        message: `range "${range}" is outside the file (${size} bytes)`,
      },
    })
  }
  const read = (offset: number, length: number) =>
    Readable.from(cat(ctx.store, f.path, { offset, length, signal: f.signal }), { objectMode: false })
  if (ranges == null || ranges === -2 || ranges.type !== 'bytes') {
    reply.header('content-length', size)
    return reply.code(200).send(f.head ? undefined : read(0, size))
  }
  if (ranges.length === 1) {
    const { start, end } = ranges[0]!
    reply.header('content-range', `bytes ${start}-${end}/${size}`)
    reply.header('content-length', end - start + 1)
    return reply.code(206).send(f.head ? undefined : read(start, end - start + 1))
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
  const length = parts.reduce((n, p) => n + p.head.length + (p.end - p.start + 1), tail.length)
  reply.header('content-type', `multipart/byteranges; boundary=${boundary}`)
  reply.header('content-length', length)
  if (f.head) return reply.code(206).send()
  const body = new PassThrough()
  void (async () => {
    try {
      for (const p of parts) {
        if (!body.write(p.head)) await new Promise((r) => body.once('drain', r))
        for await (const chunk of cat(ctx.store, f.path, {
          offset: p.start,
          length: p.end - p.start + 1,
          signal: f.signal,
        })) {
          if (!body.write(chunk)) await new Promise((r) => body.once('drain', r))
        }
      }
      body.end(tail)
    } catch (err) {
      body.destroy(err as Error)
    }
  })()
  return reply.code(206).send(body)
}

/** The Content-Type from the first bytes, for names without a known extension. */
async function sniff(ctx: ServerContext, f: FileResponse): Promise<string> {
  const chunks: Uint8Array[] = []
  for await (const chunk of cat(ctx.store, f.path, { length: SNIFF_BYTES, signal: f.signal }))
    chunks.push(chunk)
  return typeFromBytes(Buffer.concat(chunks))
}
