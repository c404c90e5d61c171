import * as z from 'zod'
import { parseCid } from '../../../content/cid.ts'
import { placePin } from '../../placement.ts'
import { result, type ToolArea } from '../context.ts'

/** Daemon answers vary by backend type and version: validated as objects, passed on whole. */
const loose = z.looseObject({})
const backendName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a backend name such as local or nas')
const pinStatus = z.enum(['queued', 'pinning', 'pinned', 'failed'])

/** pin_add, pin_remove, pin_list, pin_status, backend_*, replication_*, daemon_status: all through the daemon. */
export const managementTools: ToolArea = (server, ctx) => {
  const daemon = () => ctx.daemon.client()

  server.registerTool(
    'pin_add',
    {
      title: 'Pin a CID',
      description:
        'Pin a CID with an optional replication policy; placed on the backends the pin index suggests. The daemon copies and verifies replicas.',
      inputSchema: {
        cid: z.string().min(1).max(200),
        name: z.string().max(255).optional(),
        min_replicas: z.number().int().min(1).max(64).optional(),
        max_replicas: z.number().int().min(1).max(64).optional(),
        preferred: z.array(backendName).max(64).optional(),
        excluded: z.array(backendName).max(64).optional(),
      },
      outputSchema: { pin: loose, placement: loose.nullable(), placement_note: z.string().optional() },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async ({ cid, name, ...policy }) => {
      const defined = Object.fromEntries(Object.entries(policy).filter(([, v]) => v != null))
      const placed = await placePin(ctx, {
        cid,
        name,
        policy: Object.keys(defined).length > 0 ? defined : undefined,
      })
      return result({ ...placed })
    },
  )

  server.registerTool(
    'pin_remove',
    {
      title: 'Unpin a CID',
      description: 'Remove a pin; its replicas are released and gc may then reclaim the blocks.',
      inputSchema: { cid: z.string().min(1).max(200) },
      outputSchema: { cid: z.string(), removed: z.boolean() },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ cid }) => {
      const c = parseCid(cid).toString()
      await (await daemon()).unpin(c)
      return result({ cid: c, removed: true })
    },
  )

  server.registerTool(
    'pin_list',
    {
      title: 'List pins',
      description: 'List pins, filtered by status, CID (comma-separated) or exact name.',
      inputSchema: {
        status: pinStatus.optional(),
        cid: z.string().max(20_000).optional(),
        name: z.string().max(255).optional(),
        limit: z.number().int().min(1).max(10_000).default(100),
      },
      outputSchema: { count: z.number().int(), results: z.array(loose) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (query) => result(await (await daemon()).pins(query)),
  )

  server.registerTool(
    'pin_status',
    {
      title: 'Pin status',
      description: "One pin's status, policy and replicas (which backends hold verified copies).",
      inputSchema: { cid: z.string().min(1).max(200) },
      outputSchema: { pin: loose },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ cid }) => result({ pin: await (await daemon()).getPin(parseCid(cid).toString()) }),
  )

  server.registerTool(
    'backend_list',
    {
      title: 'List backends',
      description: 'Every storage backend with its type, run state and last health probe.',
      inputSchema: {},
      outputSchema: { backends: z.array(loose) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => result(await (await daemon()).backends()),
  )

  server.registerTool(
    'backend_health',
    {
      title: 'Backend health',
      description: 'Health of every backend; probe=true probes them now (read-only probes).',
      inputSchema: { probe: z.boolean().default(false) },
      outputSchema: { health: z.record(z.string(), loose) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ probe }) => result({ health: await (await daemon()).backendsHealth(probe) }),
  )

  for (const action of ['start', 'stop'] as const) {
    server.registerTool(
      `backend_${action}`,
      {
        title: `${action === 'start' ? 'Start' : 'Stop'} a backend`,
        description:
          action === 'start'
            ? 'Start a backend (remembered across daemon restarts).'
            : 'Stop a backend: its replicas stop counting and pins are repaired elsewhere (remembered across restarts).',
        inputSchema: { name: backendName },
        outputSchema: { backend: loose },
        annotations: {
          readOnlyHint: false,
          destructiveHint: action === 'stop',
          idempotentHint: true,
          openWorldHint: false,
        },
      },
      async ({ name }) => {
        const client = await daemon()
        return result(action === 'start' ? await client.startBackend(name) : await client.stopBackend(name))
      },
    )
  }

  server.registerTool(
    'backend_logs',
    {
      title: 'Backend logs',
      description: "The last lines of a backend's log, or of the daemon's (name=daemon).",
      inputSchema: {
        name: z.union([z.literal('daemon'), backendName]),
        lines: z.number().int().min(1).max(10_000).default(100),
      },
      outputSchema: { name: z.string(), lines: z.array(z.string()) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ name, lines }) => result(await (await daemon()).logs(name, lines)),
  )

  server.registerTool(
    'replication_status',
    {
      title: 'Replication status',
      description: 'Totals (pins fully, under- and over-replicated) and the per-pin replication state.',
      inputSchema: { limit: z.number().int().min(0).max(10_000).default(100) },
      outputSchema: { status: loose },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ limit }) => result({ status: await (await daemon()).replicationStatus(limit) }),
  )

  server.registerTool(
    'replication_sync',
    {
      title: 'Run a replication pass',
      description:
        'Compare every pin with its policy and copy/verify replicas now; wait=true returns the pass report.',
      inputSchema: { wait: z.boolean().default(true), verify: z.boolean().default(false) },
      outputSchema: { report: loose },
      annotations: {
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: true,
        openWorldHint: false,
      },
    },
    async (opts) => result({ report: await (await daemon()).sync(opts) }),
  )

  server.registerTool(
    'daemon_status',
    {
      title: 'Daemon status',
      description: 'Whether the daemon runs, and its version, uptime, pid and counts (or how to start it).',
      inputSchema: {},
      outputSchema: {
        running: z.boolean(),
        url: z.string().nullable(),
        status: loose.optional(),
        message: z.string().optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => {
      const url = (await ctx.daemon.url()) ?? null
      try {
        return result({ running: true, url, status: await (await daemon()).status() })
      } catch (err) {
        return result({ running: false, url, message: (err as Error).message })
      }
    },
  )
}
