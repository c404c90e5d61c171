import type { ServerResponse } from 'node:http'

/**
 * Resolves when `res` can take more after a write returned false, or when it closed: a client that
 * goes away while we wait never drains, and waiting on 'drain' alone would hang its writer forever.
 */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}
