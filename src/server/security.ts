import type { FastifyInstance, FastifyRequest } from 'fastify'
import { IpfsKitError } from '../errors.ts'
import { allowedHost, checkBearer, checkOrigin } from '../http/auth.ts'

export interface GuardOptions {
  token: string
  /** Bound to a loopback address: Host must then name loopback and the bound port. */
  loopback: boolean
  /** Bound to a public address, serve the gateway without the token (`server.public_gateway`). */
  publicGateway?: boolean
}

/** Which part of the server a path is: the gateway, the API, MCP or the dashboard's pages. */
function area(url: string): 'gateway' | 'api' | 'mcp' | 'page' {
  if (url.startsWith('/ipfs/') || url === '/ipfs') return 'gateway'
  if (url.startsWith('/api/') || url === '/api') return 'api'
  if (url.startsWith('/mcp')) return 'mcp'
  return 'page'
}

/**
 * DNS-rebinding and token checks in one onRequest hook. Bound to loopback: on /api, /mcp and the
 * dashboard, Host must be loopback with our port and an Origin, if sent, this server itself;
 * mutating /api calls and every /mcp call need the token; the gateway serves anyone (public,
 * immutable content). Bound to a public address, every route needs the token, the gateway too
 * unless `server.public_gateway` opens it on purpose (as a public gateway is).
 */
export function installGuard(app: FastifyInstance, opts: GuardOptions): void {
  let port: number | undefined
  app.addHook('onRequest', async (req) => {
    const where = area(req.url)
    if (!opts.loopback) {
      if (where === 'gateway' && opts.publicGateway === true) return
      checkOrigin(req.headers.origin, req.headers.host)
      checkBearer(req.headers.authorization, opts.token)
      return
    }
    if (where === 'gateway') return
    if (port == null) {
      // read once: the config may say 0, and getsockname is a syscall
      const address = app.server.address()
      port = typeof address === 'object' && address != null ? address.port : 0
    }
    checkHost(req, port)
    checkOrigin(req.headers.origin, req.headers.host)
    const mutating = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS'
    if (where === 'mcp' || (where === 'api' && mutating)) checkBearer(req.headers.authorization, opts.token)
  })
}

function checkHost(req: FastifyRequest, port: number): void {
  const host = req.headers.host
  if (host == null || host === '') {
    throw new IpfsKitError('ERR_FORBIDDEN', 'a Host header is required')
  }
  if (!allowedHost(host, port)) {
    throw new IpfsKitError(
      'ERR_FORBIDDEN',
      `host "${host}" is not allowed: use http://127.0.0.1:${port} (DNS-rebinding protection)`,
    )
  }
}
