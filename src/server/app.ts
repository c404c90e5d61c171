import swagger from '@fastify/swagger'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import { isLoopback } from '../http/auth.ts'
import { strictBodies } from '../http/formats.ts'
import { docBody, documentErrors, documentedBodies, methodNotAllowed } from '../http/method-not-allowed.ts'
import { backendRoutes } from './api/backends.ts'
import { contentRoutes } from './api/content.ts'
import { dashboardRoutes } from './api/dashboard.ts'
import { eventRoutes } from './api/events.ts'
import { healthRoutes } from './api/health.ts'
import { pinRoutes } from './api/pins.ts'
import { vfsRoutes } from './api/vfs.ts'
import type { ServerContext } from './context.ts'
import { dashboardPage } from './dashboard.ts'
import { ErrorBody, errorHandler } from './errors.ts'
import { gatewayRoutes } from './gateway/index.ts'
import { mcpRoutes } from './mcp/http.ts'
import { installGuard } from './security.ts'

/**
 * The server on :8888: security hooks first, then one plugin per area. Route schemas feed the
 * OpenAPI document at /api/openapi.json.
 */
export async function buildServerApp(ctx: ServerContext): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ctx.config.server.max_body_size,
    routerOptions: { maxParamLength: 1024 },
    // long gateway paths and filters reach validation (a 400 naming the field) rather than node's
    // bare 431: the default 64 KiB holds the longest value the schemas allow, percent-encoded
    http: { maxHeaderSize: ctx.config.server.max_header_size },
    return503OnClosing: true,
    forceCloseConnections: true,
  })
  app.setValidatorCompiler(strictBodies())
  await app.register(swagger, {
    openapi: {
      info: { title: 'ipfs-kit server', version: ctx.version },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: docBody,
    transformObject: (doc) =>
      documentedBodies('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject),
  })
  app.setErrorHandler(errorHandler)
  installGuard(app, {
    token: ctx.token,
    loopback: isLoopback(ctx.config.server.host),
    publicGateway: ctx.config.server.public_gateway,
  })
  // a method the path does not take: 405 with Allow (after the Host, Origin and token checks)
  methodNotAllowed(app)
  // every route's error answers in the OpenAPI document
  documentErrors(app, () => ErrorBody)
  app.addHook('onResponse', async (req, reply) => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      ctx.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode }, 'request')
  })
  await app.register(healthRoutes(ctx))
  await app.register(gatewayRoutes(ctx))
  await app.register(pinRoutes(ctx))
  await app.register(backendRoutes(ctx))
  await app.register(eventRoutes(ctx))
  await app.register(dashboardRoutes(ctx))
  await app.register(mcpRoutes(ctx))
  await app.register(contentRoutes(ctx))
  await app.register(vfsRoutes(ctx))
  await app.register(dashboardPage(ctx))
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
