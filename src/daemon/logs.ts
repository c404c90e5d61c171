import { mkdirSync, readFileSync } from 'node:fs'
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

  /** The last `lines` lines of a log, oldest first, reading into the rotated file when needed. */
  tail(name: string, lines: number): string[] {
    if (name !== 'daemon' && !BACKEND_NAME.test(name))
      throw new InvalidInputError(`invalid log name "${name}"`)
    const out: string[] = []
    for (const file of [`${name}.log`, `${name}.log.1`]) {
      let text: string
      try {
        text = readFileSync(join(this.dir, file), 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          if (file === `${name}.log`) throw new IpfsKitError('ERR_NOT_FOUND', `no log named "${name}"`)
          break
        }
        throw err
      }
      const fileLines = text.split('\n').filter((l) => l !== '')
      out.unshift(...fileLines.slice(-(lines - out.length)))
      if (out.length >= lines) break
    }
    return out.slice(-lines)
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.streams.values()].map((s) => new Promise<void>((resolve) => s.end(() => resolve()))),
    )
    this.streams.clear()
  }
}
