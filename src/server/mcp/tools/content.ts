import { createWriteStream, existsSync, renameSync, rmSync } from 'node:fs'
import { isAbsolute, resolve as resolvePath } from 'node:path'
import { pipeline } from 'node:stream/promises'
import * as z from 'zod'
import { add, roots } from '../../../content/add.ts'
import { exportCar } from '../../../content/car.ts'
import { parseCid } from '../../../content/cid.ts'
import { cat, get, ls, resolve, stat } from '../../../content/export.ts'
import { fileSize } from '../../../content/node.ts'
import { InvalidInputError, PathError } from '../../../errors.ts'
import { CAT_MAX_BYTES, readWindowInput, readWindowOutput, result, type ToolArea } from '../context.ts'

const ipfsPath = z
  .string()
  .min(1)
  .max(4096)
  .describe('a CID, optionally with a path below it: "<cid>", "<cid>/dir/file" or "/ipfs/<cid>/..."')

const localPath = z.string().min(1).max(4096).describe('an absolute path on the machine running the server')

const entryType = z.enum(['file', 'directory', 'raw', 'symlink', 'other'])

/** Paths the tools read or write on the server's machine must be absolute: nothing is relative to an unknown cwd. */
function absolute(path: string): string {
  if (!isAbsolute(path)) throw new InvalidInputError(`"${path}" is not an absolute path: give the full path`)
  return resolvePath(path)
}

/** content_add, content_cat, content_get, content_ls, content_stat, dag_export. */
export const contentTools: ToolArea = (server, ctx) => {
  server.registerTool(
    'content_add',
    {
      title: 'Add content',
      description:
        'Add text or a local file/directory to the blockstore with Kubo-identical CIDs (CIDv0 by default), and pin the root.',
      inputSchema: {
        text: z
          .string()
          .max(ctx.config.server.max_body_size)
          .optional()
          .describe('text to add (or give path)'),
        path: localPath.optional().describe('a local file or directory to add (or give text)'),
        cid_version: z.union([z.literal(0), z.literal(1)]).default(0),
        pin: z.boolean().default(true).describe('pin the root (recorded at once; the daemon replicates it)'),
      },
      outputSchema: {
        cid: z.string(),
        size: z.number(),
        entries: z.number().int(),
        pinned: z.boolean(),
      },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async ({ text, path, cid_version, pin }) => {
      if ((text == null) === (path == null)) throw new InvalidInputError('give exactly one of text or path')
      const source =
        text != null
          ? {
              stream: (async function* () {
                yield new TextEncoder().encode(text)
              })(),
            }
          : { paths: [absolute(path!)] }
      const entries = await add(ctx.repo, source, { cidVersion: cid_version, recursive: true, pin })
      const root = roots(entries)[0]!
      return result({
        cid: root.cid.toString(),
        size: Number(root.size),
        entries: entries.length,
        pinned: pin,
      })
    },
  )

  server.registerTool(
    'content_cat',
    {
      title: 'Read a file',
      description: `Read a file's bytes as UTF-8 text (or base64), optionally a range; at most ${CAT_MAX_BYTES} bytes per call: page with offset.`,
      inputSchema: {
        path: ipfsPath,
        ...readWindowInput,
      },
      outputSchema: readWindowOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path, offset, length, encoding }) => {
      const entry = await resolve(ctx.store, path)
      const chunks: Uint8Array[] = []
      for await (const chunk of cat(ctx.store, path, { offset, length })) chunks.push(chunk)
      const data = Buffer.concat(chunks)
      const size = Number(fileSize(entry))
      return result({
        data: data.toString(encoding),
        encoding,
        offset,
        bytes: data.length,
        file_size: size,
        eof: offset + data.length >= size,
      })
    },
  )

  server.registerTool(
    'content_get',
    {
      title: 'Save content to a local path',
      description: 'Write a file or a whole directory tree to a new local path (never overwrites).',
      inputSchema: { path: ipfsPath, output: localPath },
      outputSchema: { output: z.string(), files: z.number().int() },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    async ({ path, output }) => {
      const out = absolute(output)
      const files = await get(ctx.store, path, out)
      return result({ output: out, files })
    },
  )

  server.registerTool(
    'content_ls',
    {
      title: 'List a directory',
      description: 'List the entries of a UnixFS directory (a file lists as itself).',
      inputSchema: { path: ipfsPath },
      outputSchema: {
        entries: z.array(z.object({ name: z.string(), cid: z.string(), size: z.number(), type: entryType })),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const entries = await ls(ctx.store, path)
      return result({
        entries: entries.map((e) => ({
          name: e.name,
          cid: e.cid.toString(),
          size: Number(e.size),
          type: e.type,
        })),
      })
    },
  )

  server.registerTool(
    'content_stat',
    {
      title: 'Stat content',
      description: 'Type, size, and the blocks and bytes of the whole DAG under a CID or path.',
      inputSchema: { path: ipfsPath },
      outputSchema: {
        cid: z.string(),
        type: entryType,
        size: z.number(),
        cumulative_size: z.number(),
        blocks: z.number().int(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const s = await stat(ctx.store, path)
      return result({
        cid: s.cid.toString(),
        type: s.type,
        size: Number(s.size),
        cumulative_size: s.cumulativeSize,
        blocks: s.blocks,
      })
    },
  )

  server.registerTool(
    'dag_export',
    {
      title: 'Export a DAG as a CAR file',
      description: 'Write the whole DAG under a CID as a CARv1 file at a new local path (never overwrites).',
      inputSchema: { cid: z.string().min(1).max(200), output: localPath },
      outputSchema: { output: z.string(), bytes: z.number() },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      },
    },
    async ({ cid, output }) => {
      const root = parseCid(cid)
      const out = absolute(output)
      if (existsSync(out)) throw new PathError(`${out} already exists: choose another output path`)
      const tmp = `${out}.ipfs-kit-partial`
      const file = createWriteStream(tmp, { flags: 'wx' })
      try {
        await pipeline(exportCar(ctx.store, root), file)
      } catch (err) {
        rmSync(tmp, { force: true })
        throw err
      }
      renameSync(tmp, out)
      return result({ output: out, bytes: file.bytesWritten })
    },
  )
}
