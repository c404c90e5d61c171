import { randomBytes, timingSafeEqual } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { IpfsKitError } from '../errors.ts'

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** True for the addresses that keep the server private to this machine. */
export function isLoopback(host: string): boolean {
  return host === '::1' || LOOPBACK_NAMES.has(host.toLowerCase())
}

/**
 * The daemon's token (`<data>/api-token`), which the server takes for its own mutating calls too. If
 * the daemon never ran, the file is made here in the same format (the daemon then reuses it).
 */
export function readToken(dataDir: string): string {
  const path = join(dataDir, 'api-token')
  try {
    const token = readFileSync(path, 'utf8').trim()
    if (token.length >= 32) return token
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(32).toString('hex')
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flush: true })
  renameSync(tmp, path)
  return token
}

/** Throws a 401 unless `header` is `Bearer <token>` (compared in constant time). */
export function requireBearer(header: string | undefined, token: string): void {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  const given = Buffer.from(m?.[1] ?? '')
  const want = Buffer.from(token)
  if (m == null || given.length !== want.length || !timingSafeEqual(given, want)) {
    throw new IpfsKitError(
      'ERR_UNAUTHORIZED',
      m == null
        ? 'this call needs "Authorization: Bearer <token>" (the token is in <data>/api-token)'
        : 'the bearer token is wrong (the token is in <data>/api-token)',
    )
  }
}

export interface GuardOptions {
  token: string
  /** Bound to a loopback address: Host must then name loopback and the bound port. */
  loopback: boolean
}

/** Paths the guard protects: the API, MCP and the dashboard; the gateway serves public, immutable content. */
function guarded(url: string): 'api' | 'mcp' | 'page' | undefined {
  if (url.startsWith('/ipfs/') || url === '/ipfs') return undefined
  if (url.startsWith('/api/') || url === '/api') return 'api'
  if (url.startsWith('/mcp')) return 'mcp'
  return 'page'
}

/**
 * DNS-rebinding and token checks in one onRequest hook. On /api, /mcp and the dashboard: Host must
 * be loopback with our port (when bound to loopback), and an Origin, if sent, must be this server
 * itself. Mutating /api calls and every /mcp call need the token; when bound to a public address,
 * every /api call does.
 */
export function installGuard(app: FastifyInstance, opts: GuardOptions): void {
  let port: number | undefined
  app.addHook('onRequest', async (req) => {
    const area = guarded(req.url)
    if (area == null) return
    if (port == null) {
      // read once: the config may say 0, and getsockname is a syscall
      const address = app.server.address()
      port = typeof address === 'object' && address != null ? address.port : 0
    }
    checkHost(req, port, opts.loopback)
    checkOrigin(req)
    const mutating = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS'
    if (area === 'mcp' || (area === 'api' && (mutating || !opts.loopback))) {
      requireBearer(req.headers.authorization, opts.token)
    }
  })
}

function checkHost(req: FastifyRequest, port: number, loopback: boolean): void {
  const host = req.headers.host
  if (host == null || host === '') {
    throw new IpfsKitError('ERR_FORBIDDEN', 'a Host header is required')
  }
  if (!loopback) return
  const sep = host.lastIndexOf(':')
  const name = sep === -1 ? host : host.slice(0, sep)
  if (sep === -1 || host.slice(sep + 1) !== String(port) || !LOOPBACK_NAMES.has(name.toLowerCase())) {
    throw new IpfsKitError(
      'ERR_FORBIDDEN',
      `host "${host}" is not allowed: use http://127.0.0.1:${port} (DNS-rebinding protection)`,
    )
  }
}

/** A browser sends Origin on cross-site requests: only pages served by this server itself may call it. */
function checkOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin
  if (origin == null) return
  let originHost: string | undefined
  try {
    const u = new URL(origin)
    if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.host
  } catch {}
  if (originHost == null || originHost.toLowerCase() !== req.headers.host?.toLowerCase()) {
    throw new IpfsKitError('ERR_FORBIDDEN', `origin "${origin}" is not allowed to call this server`)
  }
}
