import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'

/**
 * Tells "no such path" (404) from "no such method on this path" (405 with `Allow`, as RFC 9110 says):
 * records every route as it is added, and `allowed(url)` lists the methods of the routes whose
 * pattern matches a path. Call before any route is registered.
 */
export function routeMethods(app: FastifyInstance): (url: string) => string[] {
  const routes: { pattern: RegExp; methods: string[]; statics: number }[] = []
  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path
    if (url == null) return
    const pattern = new RegExp(
      `^${url
        .split('/')
        .map((part) =>
          part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('/')}/?$`,
    )
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const statics = url.split('/').filter((p) => p !== '' && !p.startsWith(':') && p !== '*').length
    routes.push({ pattern, methods: methods.map((m) => m.toUpperCase()), statics })
  })
  return (url) => {
    const path = url.split('?')[0]!
    // as the router: a path is the most specific pattern's (static parts beat parameters), so
    // /backends/health is not /backends/:name
    const matching = routes.filter((r) => r.pattern.test(path))
    const best = Math.max(...matching.map((r) => r.statics))
    const allowed = new Set<string>()
    for (const r of matching) if (r.statics === best) for (const m of r.methods) allowed.add(m)
    return [...allowed].sort()
  }
}

/**
 * Answers a method no route of the path takes with 405 and `Allow` before anything else looks at
 * the request (a body method such as QUERY would otherwise be refused for its missing Content-Type),
 * and a path no route has with 404. Install before any route is registered, after the auth hooks.
 */
export function methodNotAllowed(
  app: FastifyInstance,
  body: (url: string, code: string, message: string) => unknown = (_url, code, message) => ({
    error: { code, message },
  }),
): void {
  const allowed = routeMethods(app)
  const answer = (req: FastifyRequest, reply: FastifyReply, methods: string[]) => {
    const path = req.url.split('?')[0]
    if (methods.length === 0) {
      return reply
        .code(404)
        .send({ error: { code: 'ERR_NOT_FOUND', message: `no route ${req.method} ${path}` } })
    }
    return reply
      .code(405)
      .header('allow', methods.join(', '))
      .send(
        body(
          req.url,
          'ERR_METHOD_NOT_ALLOWED',
          `${req.method} is not allowed on ${path} (allowed: ${methods.join(', ')})`,
        ),
      )
  }
  app.addHook('onRequest', async (req, reply) => {
    if (req.routeOptions.url != null) return // a route took it
    const methods = allowed(req.url)
    if (methods.length > 0 && !methods.includes(req.method)) return answer(req, reply, methods)
  })
  app.setNotFoundHandler((req, reply) => answer(req, reply, allowed(req.url)))
}

/** The error statuses any route may answer: bad input, token, Host, not found, method, body size, internal, closing. */
const ERROR_STATUSES = [400, 401, 403, 404, 405, 413, 414, 500, 502, 503, 504] as const

/**
 * Documents the error answers every route can give in its OpenAPI response schema (each status a
 * route does not declare itself, with the error body `bodyFor(url)` names), so that the document
 * says what the API really does. Install before any route is registered.
 */
export function documentErrors(app: FastifyInstance, bodyFor: (url: string) => unknown): void {
  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path ?? ''
    route.schema ??= {}
    const schema = route.schema as { response?: Record<string, unknown> }
    schema.response ??= {}
    const response = schema.response
    // node's HTTP parser refuses request heads over its limit before any route: no body of ours
    response[431] ??= { description: 'Request headers (or the query string) too large' }
    const body = bodyFor(url)
    // a route that declared no success answer still has one
    if (!Object.keys(response).some((k) => k.startsWith('2'))) response['2xx'] = { description: 'Success' }
    for (const status of ERROR_STATUSES) {
      if (!(status in response) && !(String(status) in response)) {
        response[status] = { description: STATUS_TEXT[status], ...(body as object) }
      }
    }
  })
}

const STATUS_TEXT: Record<(typeof ERROR_STATUSES)[number], string> = {
  400: 'Bad input: the message names the field',
  401: 'Missing or wrong Bearer token',
  403: 'Host (or Origin) not allowed',
  404: 'No such resource',
  405: 'Method not allowed on this path (Allow lists the methods)',
  413: 'Request body too large',
  414: 'A path parameter is longer than the router takes',
  500: 'Internal error: the answer carries a request_id to find in the log',
  502: 'A backend failed',
  503: 'Shutting down, or too many clients',
  504: 'Timed out',
}

/**
 * The OpenAPI document as the API behaves: @fastify/swagger marks every request body required, but
 * a route whose schema says `'x-body-optional': true` takes a request without one.
 */
// biome-ignore lint/suspicious/noExplicitAny: the document is plain JSON here
export function documentedBodies<T extends Record<string, any>>(doc: T): T {
  for (const item of Object.values(doc.paths ?? {}) as Record<string, Record<string, unknown>>[]) {
    for (const op of Object.values(item)) {
      if (op == null || typeof op !== 'object' || !('x-body-optional' in op)) continue
      const body = (op as { requestBody?: { required?: boolean } }).requestBody
      if (body != null) body.required = false
      delete (op as Record<string, unknown>)['x-body-optional']
    }
  }
  return doc
}

declare module 'fastify' {
  interface FastifySchema {
    /** The request body may be left out (see documentedBodies). */
    'x-body-optional'?: boolean
    /** The body as the document describes it, where a handler validates more than `body` says (see docBody). */
    'x-doc-body'?: unknown
  }
}

/**
 * For @fastify/swagger's `transform`: a route's `x-doc-body` replaces its `body` in the document (the
 * route keeps an open body schema and checks the rest itself, with messages that name the key).
 */
export function docBody(arg: { schema: FastifySchema; url: string }): { schema: FastifySchema; url: string } {
  const schema: FastifySchema = { ...arg.schema }
  if (schema['x-doc-body'] != null) {
    schema.body = schema['x-doc-body']
    delete schema['x-doc-body']
  }
  return { schema, url: arg.url }
}
