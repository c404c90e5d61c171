import type { FastifyReply } from 'fastify'

/** Immutable content: cache for a year (the path gateway spec's value). */
export const IMMUTABLE = 'public, max-age=29030400, immutable'
/** Generated pages (listings, previews) may change with the gateway's version. */
export const GENERATED = 'public, max-age=604800, stale-while-revalidate=2678400'

/** CORS for the gateway: any page may read public, immutable content. */
export function corsHeaders(reply: FastifyReply): void {
  reply.header('access-control-allow-origin', '*')
  reply.header('access-control-allow-methods', 'GET, HEAD, OPTIONS')
  reply.header('access-control-allow-headers', 'Content-Type, Range, User-Agent, X-Requested-With')
  reply.header(
    'access-control-expose-headers',
    'Content-Range, Content-Length, X-Ipfs-Path, X-Ipfs-Roots, X-Chunked-Output, X-Stream-Output',
  )
}

/** Sets ETag and Cache-Control; true (and a 304 sent) when If-None-Match names this ETag. */
export function notModified(reply: FastifyReply, etag: string, cacheControl = IMMUTABLE): boolean {
  reply.header('etag', etag)
  reply.header('cache-control', cacheControl)
  const inm = reply.request.headers['if-none-match']
  if (inm == null) return false
  const strip = (t: string) => t.trim().replace(/^W\//, '')
  const tags = inm.split(',').map(strip)
  if (!tags.includes('*') && !tags.includes(strip(etag))) return false
  reply.code(304).send()
  return true
}

/** `attachment` (or `inline`) with the file name, ASCII-safe plus the RFC 5987 UTF-8 form. */
export function disposition(kind: 'attachment' | 'inline', filename: string | undefined): string {
  if (filename == null) return kind
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  if (ascii === filename) return `${kind}; filename="${filename}"`
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}
