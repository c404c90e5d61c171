import { humanBytes } from './output.ts'

/** A one-line progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second. */
export class Progress {
  private readonly total: number
  private readonly label: string
  private readonly enabled: boolean
  private last = 0
  private readonly started = Date.now()

  private readonly unit: (n: number) => string

  constructor(
    label: string,
    total: number,
    enabled = process.stderr.isTTY === true,
    unit: (n: number) => string = humanBytes,
  ) {
    this.label = label
    this.total = total
    this.enabled = enabled
    this.unit = unit
  }

  update(done: number): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.last < 100 && done < this.total) return
    this.last = now
    const width = 30
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.')
    const rate = done / Math.max(0.001, (now - this.started) / 1000)
    process.stderr.write(
      `\r${this.label} [${bar}] ${this.unit(done)} / ${this.unit(this.total)} ${this.unit(Math.round(rate))}/s `,
    )
  }

  /** Draws the bar full (the work is known to be complete). */
  complete(): void {
    this.last = 0
    this.update(this.total)
  }

  done(): void {
    if (this.enabled) process.stderr.write('\n')
  }
}
