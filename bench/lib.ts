import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'

/** Wall time of one run of a shell command, in seconds; throws if it fails. */
export function timeCommand(cmd: string, env: NodeJS.ProcessEnv = {}): number {
  const started = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', cmd], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.toString().slice(0, 500)}`)
  return seconds
}

export interface Sample {
  median: number
  min: number
  runs: number
}

/** Runs `fn` once to warm up, then `runs` times; `setup` runs before each (untimed). */
export function sample(runs: number, fn: () => number, setup: () => void = () => {}): Sample {
  setup()
  fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    setup()
    times.push(fn())
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]!, runs }
}

export async function sampleAsync(
  runs: number,
  fn: () => Promise<number>,
  setup: () => Promise<void> | void = () => {},
): Promise<Sample> {
  await setup()
  await fn()
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    await setup()
    times.push(await fn())
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]!, runs }
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export const fmt = (s: number) => `${s.toFixed(3)} s`
export const mbps = (bytes: number, s: number) => `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s`

// ---- side-by-side comparisons (content and layout benchmarks) ----

/**
 * Wall time of one run of `argv` (no shell: nothing but the command itself is timed), with stdout
 * going to /dev/null, as `cmd > /dev/null`; stderr is captured for the error message. Throws if it fails.
 */
export function timeArgv(argv: string[], env: NodeJS.ProcessEnv = {}): number {
  const [cmd, ...args] = argv
  const started = process.hrtime.bigint()
  const r = spawnSync(cmd!, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 256 << 20,
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (r.error != null || r.status !== 0) {
    throw new Error(
      `${argv.join(' ')} failed (${r.error?.message ?? r.status}): ${r.stderr?.toString().slice(-500)}`,
    )
  }
  return seconds
}

/** Median (the mean of the middle two for an even count) and minimum of some timings. */
export interface Stats {
  median: number
  min: number
  runs: number
  times: number[]
}

export function summarize(times: number[]): Stats {
  const t = [...times].sort((a, b) => a - b)
  const mid = t.length >> 1
  const median = t.length % 2 === 1 ? t[mid]! : (t[mid - 1]! + t[mid]!) / 2
  return { median, min: t[0]!, runs: t.length, times }
}

/** One thing to time: `setup` (untimed) runs before every run, the warm-up included. */
export interface Contender {
  name: string
  setup?: () => void | Promise<void>
  run: () => number | Promise<number>
}

/**
 * Times every contender `runs` times after one warm-up round. Runs are interleaved (round 1 runs
 * each contender once, then round 2, ...), so that a burst of load from elsewhere on the machine
 * falls on all contenders alike rather than on whichever happened to be running.
 */
export async function compare(label: string, contenders: Contender[], runs: number): Promise<Stats[]> {
  const times: number[][] = contenders.map(() => [])
  for (let round = 0; round <= runs; round++) {
    for (const [i, c] of contenders.entries()) {
      await c.setup?.()
      const s = await c.run()
      if (round > 0) times[i]!.push(s)
      process.stderr.write(
        `[${label}] ${round === 0 ? 'warm-up' : `run ${round}/${runs}`}: ${c.name}: ${s.toFixed(3)} s\n`,
      )
    }
  }
  return times.map(summarize)
}

/** `sync`: flushes every dirty page, so that each timed run starts with a quiet disk. */
export function settleDisk(): void {
  spawnSync('sync', { stdio: 'ignore' })
}

export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  } catch {
    return 'unknown'
  }
}

/** The machine, as markdown lines: nproc, CPU model, `free -g`, Node, kernel, the temp dir's filesystem. */
export function machineReport(dir: string): string[] {
  const sh = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trimEnd() : 'unknown'
  }
  let cpu = cpus()[0]?.model ?? 'unknown'
  try {
    cpu = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu
  } catch {}
  return [
    `- nproc: ${sh('nproc', [])}`,
    `- CPU: ${cpu}`,
    `- Node: ${process.version}${process.env.NODE_EXTRA_CA_CERTS ? ` (NODE_EXTRA_CA_CERTS is set: ${process.env.NODE_EXTRA_CA_CERTS})` : ''}`,
    `- Kernel: ${sh('uname', ['-sr'])}`,
    `- Work dir: ${dir} (filesystem: ${sh('findmnt', ['-no', 'FSTYPE,SOURCE', '-T', dir]).replace(/\s+/, ' on ')}); durable writes go to this disk`,
    `- Load average (1, 5, 15 min) at start: ${loadavg()}`,
    '- `free -g`:',
    '',
    '```',
    sh('free', ['-g']),
    '```',
  ]
}

export const mibps = (bytes: number, s: number) => (bytes / 2 ** 20 / s).toFixed(0)

/** Every timed run in run order, so that a burst of outside load shows as one slow round across rows. */
export function rawTimes(rows: { name: string }[], stats: Stats[]): string[] {
  return [
    '<details><summary>Every run, in order (seconds)</summary>',
    '',
    table(
      ['command', ...stats[0]!.times.map((_, i) => `run ${i + 1}`)],
      rows.map((r, i) => [r.name, ...stats[i]!.times.map((t) => t.toFixed(3))]),
    ),
    '',
    '</details>',
  ]
}
