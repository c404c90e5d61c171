// Every benchmark, side by side in one run: `npm run bench`. Results go to stdout and bench/results/latest.md.
// BENCH_SIZE_MB (default 256), BENCH_RUNS (5), BENCH_HTTP_SECONDS (10), BENCH_PINS (2000), BENCH_INDEX_PINS (1000000).
import '../src/polyfills.ts'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contentBench } from './content.ts'
import { daemonBench } from './daemon.ts'
import { machine } from './lib.ts'

const env = (k: string, d: number) => Number(process.env[k] ?? d)
const dir = mkdtempSync(join(tmpdir(), 'ipfs-kit-bench-'))
try {
  const sections = [
    `## Run of ${new Date().toISOString()}`,
    '',
    `Machine: ${machine()}`,
    '',
    await contentBench(dir, env('BENCH_SIZE_MB', 256), env('BENCH_RUNS', 5)),
    '',
    await daemonBench(dir, env('BENCH_HTTP_SECONDS', 10), env('BENCH_PINS', 2000), env('BENCH_INDEX_PINS', 1_000_000)),
  ]
  const report = sections.join('\n')
  console.log(report)
  const results = new URL('./results/', import.meta.url).pathname
  mkdirSync(results, { recursive: true })
  writeFileSync(join(results, 'latest.md'), `${report}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
