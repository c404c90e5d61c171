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
}

/**
 * Placement (IPFS Cluster's PinAllocator): policy and backend metrics in, an ordered list of backend
 * names out. It decides where copies go and which go first, never what is where (the reconciler's job).
 */
export interface Allocator {
  /** Backends that may take a new copy, best first (never a holder, never an excluded backend). */
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
      .sort((a, b) => rank(a.name, policy) - rank(b.name, policy) || (b.freeBytes ?? 0) - (a.freeBytes ?? 0))
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
