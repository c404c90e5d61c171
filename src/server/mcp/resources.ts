import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js'
import { cat } from '../../content/cat.ts'
import { parseCid } from '../../content/cid.ts'
import { InvalidInputError } from '../../errors.ts'
import { typeFromBytes, typeFromName } from '../gateway/content-type.ts'
import { entryJson } from '../vfs-json.ts'
import { CAT_MAX_BYTES, type ToolContext } from './context.ts'

/** How many pins `ipfs-kit://pins` lists (the newest first, as the daemon pages them). */
const PINS_LISTED = 100

const json = (uri: string, value: unknown) => ({
  contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
})

/**
 * MCP resources, for clients that attach context rather than call tools: the pins (a list, and one
 * pin by CID, from the daemon) and the VFS (a directory as its JSON listing, a file as its bytes up
 * to the same cap as vfs_read). VFS files are listed from the root so a client can browse them.
 */
export function registerResources(server: McpServer, ctx: ToolContext): void {
  server.registerResource(
    'pins',
    'ipfs-kit://pins',
    {
      title: 'Pins',
      description: `The newest ${PINS_LISTED} pins with their status and replicas (from the daemon).`,
      mimeType: 'application/json',
    },
    async (uri) => json(uri.href, await (await ctx.daemon.client()).pins({ limit: PINS_LISTED })),
  )

  server.registerResource(
    'pin',
    new ResourceTemplate('ipfs-kit://pins/{cid}', { list: undefined }),
    {
      title: 'One pin',
      description: "A pin's status, policy and replicas, by CID.",
      mimeType: 'application/json',
    },
    async (uri, { cid }) =>
      json(uri.href, await (await ctx.daemon.client()).getPin(parseCid(String(cid)).toString())),
  )

  server.registerResource(
    'vfs',
    new ResourceTemplate('vfs://{+path}', {
      list: async () => {
        const entries = await ctx.vfs.ls('/')
        return {
          resources: entries.map((e) => ({
            uri: `vfs:///${encodeURIComponent(e.name)}`,
            name: e.name,
            mimeType: e.type === 'directory' ? 'application/json' : (typeFromName(e.name) ?? undefined),
            description: `${e.type}, ${e.size} bytes, ${e.cid}`,
          })),
        }
      },
    }),
    {
      title: 'VFS path',
      description: `A VFS directory (its listing as JSON) or file (its bytes, at most ${CAT_MAX_BYTES}), e.g. vfs:///docs/notes.txt.`,
    },
    async (uri, { path }) => {
      let decoded: string
      try {
        decoded = decodeURI(String(path))
      } catch {
        throw new InvalidInputError(`invalid VFS resource URI ${uri.href}`)
      }
      const s = await ctx.vfs.stat(decoded)
      if (s.type === 'directory') {
        const entries = await ctx.vfs.ls(s.path)
        return json(uri.href, {
          path: s.path,
          cid: s.cid.toString(),
          entries: entries.map(entryJson),
        })
      }
      const chunks: Uint8Array[] = []
      for await (const c of cat(ctx.store, s.cid.toString(), { length: CAT_MAX_BYTES })) chunks.push(c)
      const bytes = Buffer.concat(chunks)
      const mimeType = typeFromName(s.path) ?? (await typeFromBytes(bytes, bytes.length === s.size))
      const text = mimeType.startsWith('text/') || mimeType === 'application/json'
      return {
        contents: [
          text
            ? { uri: uri.href, mimeType, text: bytes.toString('utf8') }
            : { uri: uri.href, mimeType, blob: bytes.toString('base64') },
        ],
      }
    },
  )
}
