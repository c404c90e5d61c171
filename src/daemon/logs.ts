import { mkdirSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { join } from 'node:path'
import { createStream, type RotatingFileStream } from 'rotating-file-stream'
import { BACKEND_NAME } from '../config/config.ts'
import { InvalidInputError, IpfsKitError } from '../errors.ts'

/**
 * `<data>/logs/<name>.log` for the daemon and each backend, rotated by size (classic rotation:
 * name.log.1 is the newest old file), keeping `keep` old files.
 */
export class LogFiles {
  readonly dir: string
  private readonly maxBytes: number
  private readonly keep: number
  private readonly streams = new Map<string, RotatingFileStream>()

  constructor(dir: string, maxBytes: number, keep: number) {
    this.dir = dir
    this.maxBytes = maxBytes
    this.keep = keep
    mkdirSync(dir, { recursive: true })
  }

  /** The rotating stream of one log (the daemon's pino logger writes to `stream('daemon')`). */
  stream(name: string): RotatingFileStream {
    let s = this.streams.get(name)
    if (s == null) {
      s = createStream(`${name}.log`, {
        path: this.dir,
        size: `${Math.max(1, Math.ceil(this.maxBytes / 1024))}K`,
        rotate: this.keep,
      })
      s.on('error', () => {})
      this.streams.set(name, s)
    }
    return s
  }

  /** Appends one timestamped line. */
  line(name: string, text: string): void {
    this.stream(name).write(`${new Date().toISOString()} ${text}\n`)
  }

  /**
   * The last `lines` lines of a log, oldest first, reading into the rotated file when needed. Reads
   * backwards from the end in fixed-size chunks, so memory and time grow with `lines`, not with the
   * log (a line longer than MAX_LINE_BYTES is cut to its last MAX_LINE_BYTES).
   */
  async tail(name: string, lines: number): Promise<string[]> {
    if (name !== 'daemon' && !BACKEND_NAME.test(name))
      throw new InvalidInputError(`invalid log name "${name}"`)
    const out: string[] = []
    for (const file of [`${name}.log`, `${name}.log.1`]) {
      let fh: FileHandle
      try {
        fh = await open(join(this.dir, file), 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          if (file === `${name}.log`) throw new IpfsKitError('ERR_NOT_FOUND', `no log named "${name}"`)
          break
        }
        throw err
      }
      try {
        out.unshift(...(await lastLines(fh, lines - out.length)))
      } finally {
        await fh.close()
      }
      if (out.length >= lines) break
    }
    return out
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.streams.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))),
    )
    this.streams.clear()
  }
}

/** Bytes read per step backwards through a log. */
const CHUNK_BYTES = 64 * 1024
/** Longer lines are cut to their last this many bytes, so one huge line cannot grow a tail. */
export const MAX_LINE_BYTES = 64 * 1024

/** The last `want` non-empty lines of an open file, oldest first, read backwards chunk by chunk. */
async function lastLines(fh: FileHandle, want: number): Promise<string[]> {
  const found: string[] = [] // newest first
  let parts: Buffer[] = [] // the line being assembled, its end first
  let partBytes = 0
  const take = (bytes: Buffer) => {
    if (bytes.length === 0 || partBytes >= MAX_LINE_BYTES) return
    const room = MAX_LINE_BYTES - partBytes
    const kept = bytes.length > room ? bytes.subarray(bytes.length - room) : bytes
    parts.push(Buffer.from(kept))
    partBytes += kept.length
  }
  const emit = () => {
    if (partBytes > 0) found.push(Buffer.concat(parts.reverse()).toString('utf8'))
    parts = []
    partBytes = 0
  }
  const buf = Buffer.allocUnsafe(CHUNK_BYTES)
  let pos = (await fh.stat()).size
  while (pos > 0 && found.length < want) {
    const n = Math.min(CHUNK_BYTES, pos)
    pos -= n
    const { bytesRead } = await fh.read(buf, 0, n, pos)
    const chunk = buf.subarray(0, bytesRead)
    let end = chunk.length
    for (let nl = chunk.lastIndexOf(0x0a, end - 1); nl !== -1; nl = chunk.lastIndexOf(0x0a, end - 1)) {
      take(chunk.subarray(nl + 1, end))
      emit()
      end = nl
      if (found.length >= want || end === 0) break
    }
    if (found.length < want) take(chunk.subarray(0, end))
  }
  if (pos === 0 && found.length < want) emit()
  return found.reverse()
}
