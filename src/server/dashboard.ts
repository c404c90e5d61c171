import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { isLoopback } from '../http/auth.ts'
import type { ServerContext } from './context.ts'

/** Where `vite build` puts the dashboard (dist/dashboard, beside the compiled server). */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url))

const TOKEN_PLACEHOLDER = '__IPFS_KIT_TOKEN__'

/**
 * The dashboard at `/`: static files built by Vite. The page gets the API token inside the HTML the
 * local server sends (never in a URL a page could leak); the guard has already checked Host and
 * Origin, and the page may not be framed.
 */
export function dashboardPage(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    const index = `${DASHBOARD_DIR}index.html`
    if (!ctx.config.server.enable_dashboard || !existsSync(index)) {
      const why = ctx.config.server.enable_dashboard
        ? 'the dashboard is not built: run `npm run build` (it runs `vite build`)'
        : 'the dashboard is off (server.enable_dashboard is false)'
      app.get('/', { schema: { hide: true } }, async (_req, reply) =>
        reply
          .code(404)
          .type('text/plain; charset=utf-8')
          .send(`${why}; the API is at /api and the gateway at /ipfs/<cid>\n`),
      )
      return
    }
    // bound to a public address, anyone who reaches the page would get the token: it is left out
    // there, and the dashboard is used through an SSH tunnel to a loopback-bound server instead
    const token = isLoopback(ctx.config.server.host) ? ctx.token : ''
    const html = readFileSync(index, 'utf8').replace(TOKEN_PLACEHOLDER, token)
    await app.register(fastifyStatic, {
      root: `${DASHBOARD_DIR}assets`,
      prefix: '/assets/',
      immutable: true,
      maxAge: '365d',
    })
    app.get('/', { schema: { hide: true } }, async (_req, reply) =>
      reply
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'self'; frame-ancestors 'none'; img-src 'self' data:")
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer')
        .type('text/html; charset=utf-8')
        .send(html),
    )
  }
}
