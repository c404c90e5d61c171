// Every benchmark, side by side in one run: `npm run bench`. Results go to stdout and bench/results/latest.md;
// bench/README.md says what each row measures. BENCH_ONLY=content|daemon, BENCH_SIZE_MB (default 256),
// BENCH_RUNS (5), BENCH_DIR (where the file and the data dirs go; default the OS temp dir),
// BENCH_HTTP_SECONDS (10), BENCH_PINS (2000), BENCH_INDEX_PINS (1000000), BENCH_GET_MB (1024),
// BENCH_MEM_MB (4096): see bench/README.md. BENCH_ONLY=content|read|daemon runs one section;
// BENCH_ONLY=load runs only the load test (bench/load.ts, BENCH_LOAD_SECONDS 60), not part of a full run.
import '../src/polyfills.ts'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contentBench } from './content.ts'
import { daemonBench } from './daemon.ts'
import { loadavg, machineReport } from './lib.ts'
import { loadBench } from './load.ts'
import { readBench } from './read.ts'

const env = (k: string, d: number) => {
  const n = Number(process.env[k] ?? d)
  if (!(n > 0)) throw new Error(`${k} must be a positive number, not ${process.env[k]}`)
  return n
}
const runs = Math.round(env('BENCH_RUNS', 5))
const sizeMb = env('BENCH_SIZE_MB', 256)
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ipfs-kit-bench-'))
try {
  const sections = [
    `## Run of ${new Date().toISOString()}`,
    '',
    `Command: \`npm run bench\` (BENCH_SIZE_MB=${sizeMb}, BENCH_RUNS=${runs}${process.env.BENCH_ONLY ? `, BENCH_ONLY=${process.env.BENCH_ONLY}` : ''})`,
    '',
    '### Machine',
    '',
    ...machineReport(dir),
    '',
    process.env.BENCH_ONLY === 'load' ? await loadBench(dir, env('BENCH_LOAD_SECONDS', 60)) : '',
    process.env.BENCH_ONLY === 'daemon' ||
    process.env.BENCH_ONLY === 'read' ||
    process.env.BENCH_ONLY === 'load'
      ? ''
      : await contentBench(dir, sizeMb, runs),
    '',
    process.env.BENCH_ONLY === 'daemon' ||
    process.env.BENCH_ONLY === 'content' ||
    process.env.BENCH_ONLY === 'load'
      ? ''
      : await readBench(dir, sizeMb, env('BENCH_GET_MB', 1024), env('BENCH_MEM_MB', 4096), runs),
    '',
    process.env.BENCH_ONLY === 'content' ||
    process.env.BENCH_ONLY === 'read' ||
    process.env.BENCH_ONLY === 'load'
      ? ''
      : await daemonBench(
          dir,
          env('BENCH_HTTP_SECONDS', 10),
          env('BENCH_PINS', 2000),
          env('BENCH_INDEX_PINS', 1_000_000),
        ),
  ]
  sections.push('', `Load average (1, 5, 15 min) at the end: ${loadavg()}`)
  const report = sections.join('\n')
  console.log(report)
  const results = new URL('./results/', import.meta.url).pathname
  mkdirSync(results, { recursive: true })
  writeFileSync(join(results, 'latest.md'), `${report}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
