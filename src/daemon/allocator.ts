import { LOCAL_BACKEND } from '../repo.ts'

/** A pin's effective policy: its own fields over the configured default. */
export interface EffectivePolicy {
  min: number
  max: number
  preferred: string[]
  excluded: string[]
}

/** What the allocator knows of a usable backend: its last health metrics. */
export interface Candidate {
  name: string
  freeBytes?: number
  latencyMs?: number
  /** Its failure domain, when it shares one with others; holders' domains rank it lower. */
  domain?: string
  /** True when a holder is in the same failure domain. */
  domainHeld?: boolean
}

/**
 * Placement (IPFS Cluster's PinAllocator): policy and backend metrics in, an ordered list of backend
 * names out. It decides where copies go and which go first, never what is where (the reconciler's job).
 */
export interface Allocator {
  /**
   * Backends that may take a new copy, best first (never a holder, never an excluded backend); those
   * in a failure domain that holds no copy yet come before the rest.
   */
  targets(policy: EffectivePolicy, candidates: Candidate[], holders: string[]): string[]
  /** Holders to drop to come down to `policy.max`, the first to drop first. */
  extras(policy: EffectivePolicy, holders: string[]): string[]
}

/**
 * The default allocator: preferred backends in their order, then the most free space. Trimming drops
 * the least preferred first and never `local`: its blocks stay while the pin exists (gc's roots are the
 * pin set), so dropping its replica would leave state and disk disagreeing (see LocalBackend).
 */
export const preferredThenFreeSpace: Allocator = {
  targets(policy, candidates, holders) {
    return candidates
      .filter((c) => !holders.includes(c.name) && !policy.excluded.includes(c.name))
      .sort(
        (a, b) =>
          Number(a.domainHeld === true) - Number(b.domainHeld === true) ||
          rank(a.name, policy) - rank(b.name, policy) ||
          (b.freeBytes ?? 0) - (a.freeBytes ?? 0),
      )
      .map((c) => c.name)
  },
  extras(policy, holders) {
    if (holders.length <= policy.max) return []
    return holders
      .filter((h) => h !== LOCAL_BACKEND)
      .sort((a, b) => rank(b, policy) - rank(a, policy))
      .slice(0, holders.length - policy.max)
  },
}

/** Lower is better: preferred backends in their order, then the rest. */
function rank(name: string, policy: EffectivePolicy): number {
  const i = policy.preferred.indexOf(name)
  return i === -1 ? policy.preferred.length : i
}

/**
 * How many of a pin's verified replicas count toward its minimum. Replicas in one failure domain
 * count once while a usable domain still holds no copy (so that the next copy goes there); once
 * every usable domain holds one, each replica counts (more copies cannot be spread further).
 * `domainOf` gives a backend without a declared domain a domain of its own.
 */
export function countedReplicas(
  holders: readonly string[],
  usable: readonly string[],
  domainOf: (backend: string) => string,
): number {
  const held = new Set(holders.map(domainOf))
  const anotherDomain = usable.some((b) => !held.has(domainOf(b)))
  return anotherDomain ? held.size : holders.length
}
