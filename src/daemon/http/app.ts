import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance } from 'fastify'
import { IpfsKitError } from '../../errors.ts'
import { allowedHost, checkBearer, checkOrigin } from '../../http/auth.ts'
import { strictBodies } from '../../http/formats.ts'
import { docBody, documentErrors, documentedBodies, methodNotAllowed } from '../../http/method-not-allowed.ts'
import type { Daemon } from '../daemon.ts'
import { ErrorBody, errorHandler } from './errors.ts'
import { backendRoutes } from './routes/backends.ts'
import { pinRoutes } from './routes/pins.ts'
import { PSA_FAILURE, psaRoutes } from './routes/psa.ts'
import { replicationRoutes } from './routes/replication.ts'
import { repoRoutes } from './routes/repo.ts'
import { systemRoutes } from './routes/system.ts'

export interface AppOptions {
  token: string
  port: number
  /** Bound to a non-loopback address: then every call needs the token, and Host is not checked. */
  public?: boolean
}

/** The daemon's REST API: one plugin per area, schemas on every route, OpenAPI at /openapi.json. */
export async function buildApp(daemon: Daemon, opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // larger bodies are refused with 413 (config max_body_size, 1 MiB by default)
    bodyLimit: daemon.config.max_body_size,
    // a CIDv1 with a long hash (sha2-512, base32) is over fastify's default of 100: the schemas bound each one
    routerOptions: { maxParamLength: 1024 },
    // long filters (a list of ten CIDv1s, percent-encoded unicode in a name) reach validation and
    // get a 400 naming the field, rather than node's bare 431: the default 64 KiB holds the longest
    // the schemas allow (config max_header_size)
    http: { maxHeaderSize: daemon.config.max_header_size },
    return503OnClosing: true,
    forceCloseConnections: true,
  })
  app.setValidatorCompiler(strictBodies())
  await app.register(swagger, {
    openapi: {
      info: { title: 'ipfs-kit daemon', version: daemon.version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: docBody,
    transformObject: (doc) =>
      documentedBodies('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject),
  })
  app.setErrorHandler(errorHandler(daemon.log))
  let port: number | undefined
  app.addHook('onRequest', async (req) => {
    if (port == null) {
      // the bound port (config may say 0); read once, not per request (getsockname is a syscall)
      const address = app.server.address()
      port = typeof address === 'object' && address != null ? address.port : opts.port
    }
    if (!opts.public && !allowedHost(req.headers.host, port)) {
      throw new IpfsKitError(
        'ERR_FORBIDDEN',
        `host "${req.headers.host}" is not allowed: use 127.0.0.1:${port}`,
      )
    }
    // no page of the daemon's calls it: a browser's cross-site request (DNS rebinding, a hostile
    // page posting to 127.0.0.1) carries a foreign Origin and is refused before anything happens
    checkOrigin(req.headers.origin, req.headers.host)
    const mutating = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS'
    if (mutating || opts.public) checkBearer(req.headers.authorization, opts.token)
  })
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'GET')
      daemon.log.info({ method: req.method, url: req.url, status: reply.statusCode }, 'request')
  })
  // a method the path does not take: 405 with Allow (after the Host and token checks)
  methodNotAllowed(app, (url, code, message) =>
    url.startsWith('/psa/')
      ? { error: { reason: code === 'ERR_NOT_FOUND' ? 'NOT_FOUND' : 'METHOD_NOT_ALLOWED', details: message } }
      : { error: { code, message } },
  )
  // every route's error answers in the OpenAPI document: the Pinning Service API's in its own shape
  documentErrors(app, (url) => (url.startsWith('/psa') ? PSA_FAILURE : ErrorBody))
  await app.register(systemRoutes(daemon, app))
  await app.register(backendRoutes(daemon))
  await app.register(pinRoutes(daemon))
  await app.register(replicationRoutes(daemon))
  await app.register(repoRoutes(daemon))
  await app.register(psaRoutes(daemon, opts.token), { prefix: '/psa' })
  return app
}
