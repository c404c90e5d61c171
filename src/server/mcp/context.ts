import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as z from 'zod'
import type { ServerContext } from '../context.ts'

/** What the MCP tools need: the content core and the daemon (the same over stdio and HTTP). */
export type ToolContext = Pick<
  ServerContext,
  'config' | 'repo' | 'store' | 'vfs' | 'daemon' | 'routes' | 'version'
>

/** Registers one area's tools on the server. */
export type ToolArea = (server: McpServer, ctx: ToolContext) => void

/** The largest `content_cat` answer, so an agent cannot pull a huge file into its context by accident. */
export const CAT_MAX_BYTES = 1024 * 1024

/** The window a reading tool takes (content_cat, vfs_read): offset, length up to the cap, encoding. */
export const readWindowInput = {
  offset: z.number().int().min(0).default(0),
  length: z
    .number()
    .int()
    .min(0)
    .max(CAT_MAX_BYTES)
    .default(64 * 1024),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
}

/** What a reading tool answers: the bytes as text, where they were, and whether the file ends there. */
export const readWindowOutput = {
  data: z.string(),
  encoding: z.enum(['utf8', 'base64']),
  offset: z.number(),
  bytes: z.number(),
  file_size: z.number(),
  eof: z.boolean(),
}

/** A tool's result: JSON text for clients that read text, and the same value as structured content. */
export function result<T extends Record<string, unknown>>(value: T) {
  return {
    content: [{ type: 'text' as const, text: JSON.stringify(value, bigints, 2) }],
    structuredContent: JSON.parse(JSON.stringify(value, bigints)) as T,
  }
}

function bigints(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v
}
