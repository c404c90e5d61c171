import type { Json, Policy } from '../client/daemon-client.ts'
import type { SuggestResult } from '../client/route-reader.ts'
import { parseCid } from '../content/cid.ts'
import { resolve } from '../content/export.ts'
import { fileSize } from '../content/node.ts'
import type { ServerContext } from './context.ts'

export interface PinRequest {
  cid: string
  name?: string
  policy?: Policy
}

export interface PlacedPin {
  pin: Json
  /** Where the pin index says the new pin should go (null when there is no index yet, with why). */
  placement: SuggestResult | null
  placement_note?: string
}

/**
 * Pins through the daemon, placed with the pin index: RouteReader's suggested targets become the
 * pin's preferred backends (after any the caller preferred), so the reconciler copies it there first.
 */
export async function placePin(
  ctx: Pick<ServerContext, 'daemon' | 'routes' | 'store'>,
  req: PinRequest,
): Promise<PlacedPin> {
  const cid = parseCid(req.cid).toString()
  const client = await ctx.daemon.client()
  const policy: Policy = { ...req.policy }
  let placement: SuggestResult | null = null
  let note: string | undefined
  try {
    placement = ctx.routes.suggest({
      size: await localSize(ctx, cid),
      replicas: policy.min_replicas,
      preferred: policy.preferred,
      excluded: policy.excluded,
    })
    const preferred = [...(policy.preferred ?? [])]
    for (const t of placement.targets) if (!preferred.includes(t.backend)) preferred.push(t.backend)
    if (preferred.length > 0) policy.preferred = preferred
  } catch (err) {
    note = `placed by the daemon's default policy: ${(err as Error).message}`
  }
  const pin = await client.pin(cid, {
    name: req.name,
    policy: Object.keys(policy).length > 0 ? policy : undefined,
  })
  return { pin, placement, ...(note != null ? { placement_note: note } : {}) }
}

/** The size of a locally stored file (0 when unknown here: a directory, or content not stored). */
async function localSize(ctx: Pick<ServerContext, 'store'>, cid: string): Promise<number> {
  try {
    const entry = await resolve(ctx.store, cid)
    return Number(fileSize(entry))
  } catch {
    return 0
  }
}
