import { setFlagsFromString } from 'node:v8'
import { InvalidInputError } from './errors.ts'

/**
 * How far V8 lets the heap grow past what the last full collection kept, in percent: 50 means the
 * next full collection comes at 1.5x the live size. V8's own choice for a small heap under a high
 * allocation rate is up to 4x, and a daemon answering 100 requests at once for 1,000-pin pages held
 * 80-130 MiB of garbage before collecting it (a 1M-pin daemon at 275-364 MiB resident; 198-207 MiB
 * with 50). Kubo's Go runtime makes the same trade with GOGC (100 by default), and as with GOGC an
 * operator may choose: IPFS_KIT_HEAP_GROWING_PERCENT=0 leaves V8's own heuristics.
 */
const DEFAULT_PERCENT = 50

/**
 * The memory settings of a long-running process (the daemon). The flag is read each time V8 sets
 * its next collection limit, so setting it once the process runs takes effect.
 */
export function tuneHeapForService(env: NodeJS.ProcessEnv = process.env): void {
  const raw = env.IPFS_KIT_HEAP_GROWING_PERCENT
  const percent = raw == null || raw === '' ? DEFAULT_PERCENT : Number(raw)
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000)
    throw new InvalidInputError(
      `IPFS_KIT_HEAP_GROWING_PERCENT must be a whole number from 0 to 1000 (0: V8's own choice), not "${raw}"`,
    )
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}
