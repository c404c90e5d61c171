import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * A pacer for long loops whose steps never wait on I/O (reads that complete synchronously, SQL):
 * `await pace()` lets the event loop run whenever `sliceMs` of work has passed since it last did.
 * (An async iterator alone does not: its turns run as microtasks, before any timer or socket.)
 */
export function pacer(sliceMs = 4): () => Promise<void> | undefined {
  let since = performance.now()
  return () => {
    if (performance.now() - since < sliceMs) return undefined
    return nextTurn().then(() => {
      since = performance.now()
    })
  }
}
