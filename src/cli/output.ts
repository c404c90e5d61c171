import { explainNoSpace, IpfsKitError } from '../errors.ts'

/** Exit codes, documented in the README: 0 ok, 1 failed, 2 bad usage or input, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const

/** Writes one line of data to stdout. */
export function out(line: string): void {
  writeTo(process.stdout, `${line}\n`)
}

/** Writes a value as one line of JSON to stdout (BigInts as numbers when safe, else strings). */
export function outJson(value: unknown): void {
  out(
    JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v,
    ),
  )
}

/** Progress and notices go to stderr so stdout stays data. */
export function note(line: string): void {
  // a notice that cannot be shown is dropped: data on stdout decides whether the command goes on
  if (!failed.has(process.stderr)) writeTo(process.stderr, `${line}\n`)
}

/** A write error each stream has reported (EPIPE: its reader went away, as in `ipfs-kit ... | head`). */
const failed = new WeakMap<NodeJS.WriteStream, Error>()

/**
 * Writes to stdout or stderr. A stream reports a failed write later, as an 'error' event: unheard,
 * it ended the process with a stack trace (`ipfs-kit ipfs ls <dir> | head -1`). Heard here, the
 * next write throws it, which ends the command (an EPIPE quietly, with status 0: see reportError).
 */
function writeTo(stream: NodeJS.WriteStream, text: string): void {
  const err = failed.get(stream)
  if (err != null) throw err
  if (stream.listenerCount('error') === 0) stream.on('error', (e: Error) => failed.set(stream, e))
  stream.write(text)
}

/** Prints one clear line for an error and returns the exit code to use. */
export function reportError(thrown: unknown): number {
  const err = explainNoSpace(thrown)
  if (err instanceof IpfsKitError) {
    note(`Error: ${err.message}`)
    if (err.code === 'ERR_INTERRUPTED') return EXIT.interrupted
    return err.code === 'ERR_INVALID_INPUT' || err.code === 'ERR_INVALID_CID' ? EXIT.usage : EXIT.failed
  }
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EPIPE') return EXIT.ok
  note(`Error: ${e?.message ?? String(err)}`)
  if (process.env.IPFS_KIT_DEBUG) note(e?.stack ?? '')
  return EXIT.failed
}

/**
 * After a clean stop (everything closed, state durable, lock released): exit even if something
 * outside our control still holds the event loop, e.g. a socket to a backend that never answers and
 * is configured to wait minutes. A process that drains by itself exits first (the timer is unref'd).
 */
export function exitSoon(ms = 2000): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), ms).unref()
}

/** Formats a byte count for people: 1.5 MiB. */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}
