import { spawnSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'

/** Wall time of one run of a shell command, in seconds; throws if it fails. */
export function timeCommand(cmd: string, env: NodeJS.ProcessEnv = {}): number {
  const started = process.hrtime.bigint()
  const r = spawnSync('bash', ['-c', cmd], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
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

export async function sampleAsync(runs: number, fn: () => Promise<number>, setup: () => Promise<void> | void = () => {}): Promise<Sample> {
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
