import { randomUUID } from 'node:crypto'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { IpfsKitError } from '../../errors.ts'
import type { ServerContext } from '../context.ts'
import { createMcpServer } from './server.ts'

/** Sessions kept at once; past this the least recently used is closed. */
const MAX_SESSIONS = 64

interface Session {
  transport: StreamableHTTPServerTransport
  usedAt: number
}

/**
 * MCP over Streamable HTTP at /mcp, one MCP server per session. The Bearer token, Host and Origin
 * are checked by the server's guard hook before a request gets here (the SDK's DNS-rebinding
 * helpers are for Express only).
 */
export function mcpRoutes(ctx: ServerContext): FastifyPluginAsync {
  return async (app) => {
    const sessions = new Map<string, Session>()
    app.addHook('onClose', async () => {
      await Promise.all([...sessions.values()].map((s) => s.transport.close()))
      sessions.clear()
    })

    const handle = async (req: FastifyRequest, reply: FastifyReply) => {
      const id = req.headers['mcp-session-id']
      let session = typeof id === 'string' ? sessions.get(id) : undefined
      if (session == null) {
        if (id != null)
          throw new IpfsKitError('ERR_NOT_FOUND', `no MCP session ${String(id)}: initialize a new one`)
        if (req.method !== 'POST')
          throw new IpfsKitError('ERR_INVALID_INPUT', 'start an MCP session with POST initialize')
        session = await openSession(ctx, sessions)
      }
      session.usedAt = Date.now()
      reply.hijack()
      await session.transport.handleRequest(req.raw, reply.raw, req.body)
    }
    const schema = { tags: ['mcp'], summary: 'MCP Streamable HTTP transport (Bearer token required)' }
    // GET (the server's event stream) and DELETE (the end of a session) name a session made by POST
    const inSession = {
      ...schema,
      headers: {
        type: 'object',
        properties: { 'mcp-session-id': { type: 'string', minLength: 1, maxLength: 200 } },
        required: ['mcp-session-id'],
      },
    }
    app.post('/mcp', { schema }, handle)
    app.get('/mcp', { schema: inSession }, handle)
    app.delete('/mcp', { schema: inSession }, handle)
  }
}

async function openSession(ctx: ServerContext, sessions: Map<string, Session>): Promise<Session> {
  if (sessions.size >= MAX_SESSIONS) {
    const oldest = [...sessions.entries()].sort((a, b) => a[1].usedAt - b[1].usedAt)[0]!
    sessions.delete(oldest[0])
    await oldest[1].transport.close()
  }
  const server = createMcpServer(ctx)
  const session: Session = {
    transport: new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => {
        sessions.set(sid, session)
      },
    }),
    usedAt: Date.now(),
  }
  session.transport.onclose = () => {
    if (session.transport.sessionId != null) sessions.delete(session.transport.sessionId)
    void server.close()
  }
  await server.connect(session.transport)
  return session
}
