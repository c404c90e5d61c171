import * as z from 'zod'
import { parseSize } from '../../../config/size.ts'
import { result, type ToolArea } from '../context.ts'

const loose = z.looseObject({})

/** route_inspect, route_suggest, route_stats: answered from the published pin index, without the daemon. */
export const routingTools: ToolArea = (server, ctx) => {
  server.registerTool(
    'route_inspect',
    {
      title: 'Where is a CID',
      description: 'Which backends hold verified copies of a pinned CID, best first (from the pin index).',
      inputSchema: { cid: z.string().min(1).max(200) },
      outputSchema: { route: loose },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ cid }) => result({ route: { ...(await ctx.routes.inspect(cid)) } }),
  )

  server.registerTool(
    'route_suggest',
    {
      title: 'Where would a new pin go',
      description:
        'The backends a new pin of a given size would be placed on, and why the others were not chosen.',
      inputSchema: {
        size: z
          .union([z.number().int().min(0), z.string().max(32)])
          .default(0)
          .describe('bytes, or e.g. "5GB"'),
        replicas: z.number().int().min(1).max(64).optional(),
        preferred: z.array(z.string().max(64)).max(64).optional(),
        excluded: z.array(z.string().max(64)).max(64).optional(),
      },
      outputSchema: {
        size: z.number(),
        replicas: z.number(),
        targets: z.array(z.object({ backend: z.string(), reason: z.string() })),
        rejected: z.array(z.object({ backend: z.string(), reason: z.string() })),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ size, ...opts }) => {
      const bytes = typeof size === 'number' ? size : parseSize(size)
      return result({ ...ctx.routes.suggest({ size: bytes, ...opts }) })
    },
  )

  server.registerTool(
    'route_stats',
    {
      title: 'Pins and bytes per backend',
      description: 'Pins, verified replicas and bytes per backend, and how many pins are under-replicated.',
      inputSchema: {},
      outputSchema: {
        pins: z.number(),
        bytes: z.number(),
        byStatus: z.record(z.string(), z.number()),
        backends: z.array(loose),
        underReplicated: z.number(),
        publishedAt: z.number().nullable(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async () => result({ ...(await ctx.routes.stats()) }),
  )
}
