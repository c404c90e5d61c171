import { createReadStream } from 'node:fs'
import { stat as fsStat } from 'node:fs/promises'
import { isAbsolute } from 'node:path'
import * as z from 'zod'
import { cat } from '../../../content/cat.ts'
import { InvalidInputError } from '../../../errors.ts'
import { recordLocalPin } from '../../../repo.ts'
import { VfsTypeError } from '../../../vfs/index.ts'
import { entryJson, statJson } from '../../vfs-json.ts'
import { CAT_MAX_BYTES, readWindowInput, readWindowOutput, result, type ToolArea } from '../context.ts'

const vfsPath = z
  .string()
  .min(1)
  .max(4096)
  .describe('an absolute VFS path such as / or /docs/report.pdf ("." and ".." are refused)')
const entryType = z.enum(['file', 'directory', 'symlink'])
const cidVersion = z.union([z.literal(0), z.literal(1)]).optional()
const entry = z.object({ name: z.string(), type: entryType, size: z.number(), cid: z.string() })
const changed = {
  path: z.string(),
  root: z.string().describe('the VFS root CID after the change'),
}
const change = { readOnlyHint: false, openWorldHint: false } as const

/** vfs_ls, vfs_stat, vfs_read, vfs_write, vfs_mkdir, vfs_rm, vfs_mv, vfs_cp, vfs_flush: Kubo's `ipfs files`. */
export const vfsTools: ToolArea = (server, ctx) => {
  const { vfs } = ctx
  const root = () => vfs.root().toString()

  server.registerTool(
    'vfs_ls',
    {
      title: 'List a VFS directory',
      description: 'List a directory of the mutable file tree (VFS); a file lists as itself.',
      inputSchema: { path: vfsPath.default('/') },
      outputSchema: { path: z.string(), cid: z.string(), entries: z.array(entry) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const s = await vfs.stat(path)
      const entries = await vfs.ls(s.path)
      return result({ path: s.path, cid: s.cid.toString(), entries: entries.map(entryJson) })
    },
  )

  server.registerTool(
    'vfs_stat',
    {
      title: 'Stat a VFS path',
      description: 'CID, type and sizes of a VFS path; `/` gives the root CID (as `ipfs files stat`).',
      inputSchema: { path: vfsPath.default('/') },
      outputSchema: {
        path: z.string(),
        cid: z.string(),
        type: entryType,
        size: z.number(),
        cumulative_size: z.number(),
        blocks: z.number().int(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      return result(statJson(await vfs.stat(path)))
    },
  )

  server.registerTool(
    'vfs_read',
    {
      title: 'Read a VFS file',
      description: `Read a VFS file as UTF-8 text (or base64), optionally a range; at most ${CAT_MAX_BYTES} bytes per call: page with offset.`,
      inputSchema: {
        path: vfsPath,
        ...readWindowInput,
      },
      outputSchema: readWindowOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path, offset, length, encoding }) => {
      const s = await vfs.stat(path)
      if (s.type === 'directory') throw new VfsTypeError(`${s.path} is a directory: list it with vfs_ls`)
      const chunks: Uint8Array[] = []
      if (offset < s.size) {
        for await (const chunk of cat(ctx.store, s.cid.toString(), { offset, length })) chunks.push(chunk)
      }
      const data = Buffer.concat(chunks)
      return result({
        data: data.toString(encoding),
        encoding,
        offset,
        bytes: data.length,
        file_size: s.size,
        eof: offset + data.length >= s.size,
      })
    },
  )

  server.registerTool(
    'vfs_write',
    {
      title: 'Write a VFS file',
      description:
        'Write text, base64 bytes or a local file into a VFS file at an offset (as `ipfs files write`); creates it by default; optionally pins the file.',
      inputSchema: {
        path: vfsPath,
        text: z.string().max(ctx.config.server.max_body_size).optional().describe('UTF-8 text to write'),
        base64: z
          .string()
          .max(ctx.config.server.max_body_size)
          .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 (A-Z, a-z, 0-9, +, /, = padding)')
          .optional()
          .describe('bytes to write, base64-encoded'),
        local_path: z
          .string()
          .min(1)
          .max(4096)
          .optional()
          .describe('an absolute path of a local file to write (streamed: any size)'),
        offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
        create: z.boolean().default(true).describe('create the file if missing'),
        truncate: z.boolean().default(false).describe('truncate to zero bytes first'),
        parents: z.boolean().default(false).describe('create missing parent directories'),
        cid_version: cidVersion,
        pin: z.boolean().default(false).describe('pin the written file (the daemon replicates it)'),
      },
      outputSchema: { ...changed, cid: z.string(), size: z.number(), pinned: z.boolean() },
      annotations: { ...change, destructiveHint: true, idempotentHint: false },
    },
    async ({ path, text, base64, local_path, offset, create, truncate, parents, cid_version, pin }) => {
      const given = [text, base64, local_path].filter((v) => v != null).length
      if (given !== 1) throw new InvalidInputError('give exactly one of text, base64 or local_path')
      let source: AsyncIterable<Uint8Array> | Uint8Array
      if (text != null) source = new TextEncoder().encode(text)
      else if (base64 != null) source = Buffer.from(base64, 'base64')
      else {
        if (!isAbsolute(local_path!))
          throw new InvalidInputError(`"${local_path}" is not an absolute path: give the full path`)
        const st = await fsStat(local_path!).catch(() => undefined)
        if (st == null || !st.isFile()) throw new InvalidInputError(`${local_path} is not a readable file`)
        source = createReadStream(local_path!)
      }
      const w = await vfs.write(path, source, {
        offset,
        create,
        truncate,
        parents,
        cidVersion: cid_version,
        maxPadding: ctx.config.server.max_upload_size,
      })
      const cid = w.cid.toString()
      if (pin) recordLocalPin(ctx.repo, cid, w.path.split('/').pop())
      return result({ path: w.path, cid, size: w.size, pinned: pin, root: root() })
    },
  )

  server.registerTool(
    'vfs_mkdir',
    {
      title: 'Make a VFS directory',
      description: 'Make a directory; with parents, also the missing ones above it (no error if it exists).',
      inputSchema: { path: vfsPath, parents: z.boolean().default(false), cid_version: cidVersion },
      outputSchema: changed,
      annotations: { ...change, destructiveHint: false, idempotentHint: false },
    },
    async ({ path, parents, cid_version }) => {
      const r = await vfs.mkdir(path, { parents, cidVersion: cid_version })
      return result({ path: r.path, root: root() })
    },
  )

  server.registerTool(
    'vfs_rm',
    {
      title: 'Remove a VFS path',
      description:
        'Remove a file, or a directory with recursive. The content stays in the blockstore until gc.',
      inputSchema: {
        path: vfsPath,
        recursive: z.boolean().default(false),
        force: z.boolean().default(false).describe('no error if the path does not exist'),
      },
      outputSchema: { ...changed, removed: z.boolean() },
      annotations: { ...change, destructiveHint: true, idempotentHint: true },
    },
    async ({ path, recursive, force }) => {
      const r = await vfs.rm(path, { recursive, force })
      return result({ path: r.path, removed: r.removed, root: root() })
    },
  )

  server.registerTool(
    'vfs_mv',
    {
      title: 'Move a VFS path',
      description: 'Move or rename a file or directory (a destination ending in / moves into it).',
      inputSchema: { from: vfsPath, to: vfsPath },
      outputSchema: { ...changed, from: z.string() },
      annotations: { ...change, destructiveHint: true, idempotentHint: false },
    },
    async ({ from, to }) => {
      const r = await vfs.mv(from, to)
      return result({ path: r.to, from: r.from, root: root() })
    },
  )

  server.registerTool(
    'vfs_cp',
    {
      title: 'Copy into the VFS',
      description:
        'Copy /ipfs/<cid>[/path] or another VFS path to a VFS path. Only a link is made: no data is copied.',
      inputSchema: {
        from: z.string().min(1).max(4096).describe('a VFS path, or /ipfs/<cid>[/path]'),
        to: vfsPath,
        parents: z.boolean().default(false),
        force: z.boolean().default(false).describe('replace an existing destination'),
      },
      outputSchema: { ...changed, from: z.string(), cid: z.string() },
      annotations: { ...change, destructiveHint: false, idempotentHint: true },
    },
    async ({ from, to, parents, force }) => {
      const r = await vfs.cp(from, to, { parents, force })
      return result({ path: r.to, from: r.from, cid: r.cid.toString(), root: root() })
    },
  )

  server.registerTool(
    'vfs_flush',
    {
      title: 'Flush a VFS path',
      description: "The CID of a path; every change is already durable (Kubo's `files flush`).",
      inputSchema: { path: vfsPath.default('/') },
      outputSchema: { path: z.string(), cid: z.string() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ path }) => {
      const cid = await vfs.flush(path)
      return result({ path, cid: cid.toString() })
    },
  )
}
