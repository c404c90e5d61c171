// Every benchmark, side by side in one run: `npm run bench`. Results go to stdout and bench/results/latest.md;
// bench/README.md says what each row measures. BENCH_ONLY=content|read|server|daemon|event-loop runs one section;
// BENCH_SIZE_MB (default 256), BENCH_RUNS (5), BENCH_DIR (where the file and the data dirs go; default
// the OS temp dir), BENCH_HTTP_SECONDS (10), BENCH_PINS (2000), BENCH_INDEX_PINS (1000000),
// BENCH_GET_MB (1024), BENCH_MEM_MB (4096), BENCH_TREE_FILES (20000), BENCH_HAMT_ENTRIES (10000),
// BENCH_LOOP_MB (1024, the event-loop section). BENCH_ONLY=scale (BENCH_SCALE_PINS, BENCH_SCALE_BLOCKS)
// runs bench/scale.ts alone, and BENCH_ONLY=load (BENCH_LOAD_SECONDS, 60) the load test: neither is
// part of a full run (seeding 1M pins takes minutes). BENCH_ONLY=backends (BENCH_SIZE_MB, BENCH_RUNS,
// BENCH_PINS) runs bench/backends.ts against Kubo, IPFS Cluster and versitygw (scripts/install-go-tools.sh).
import '../src/polyfills.ts'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { backendsBench } from './backends.ts'
import { contentBench } from './content.ts'
import { daemonBench } from './daemon.ts'
import { eventLoopBench } from './event-loop.ts'
import { loadavg, machineReport } from './lib.ts'
import { loadBench } from './load.ts'
import { readBench } from './read.ts'
import { scaleBench } from './scale.ts'
import { serverBench } from './server.ts'

const env = (k: string, d: number) => {
  const n = Number(process.env[k] ?? d)
  if (!(n > 0)) throw new Error(`${k} must be a positive number, not ${process.env[k]}`)
  return n
}
const runs = Math.round(env('BENCH_RUNS', 5))
const sizeMb = env('BENCH_SIZE_MB', 256)
const only = process.env.BENCH_ONLY
/** The sections of a full run, in order; BENCH_ONLY picks one. */
const sections: Record<string, (dir: string) => Promise<string>> = {
  content: (dir) => contentBench(dir, sizeMb, runs),
  read: (dir) =>
    readBench(
      dir,
      sizeMb,
      env('BENCH_GET_MB', 1024),
      env('BENCH_MEM_MB', 4096),
      runs,
      env('BENCH_TREE_FILES', 20_000),
      env('BENCH_HAMT_ENTRIES', 10_000),
    ),
  server: (dir) => serverBench(dir, sizeMb, runs, env('BENCH_HTTP_SECONDS', 10)),
  daemon: (dir) =>
    daemonBench(
      dir,
      env('BENCH_HTTP_SECONDS', 10),
      env('BENCH_PINS', 2000),
      env('BENCH_INDEX_PINS', 1_000_000),
    ),
  'event-loop': (dir) => eventLoopBench(dir, env('BENCH_LOOP_MB', 1024)),
  backends: (dir) => backendsBench(dir, sizeMb, runs, env('BENCH_PINS', 2000)),
  load: (dir) => loadBench(dir, env('BENCH_LOAD_SECONDS', 60)),
  scale: (dir) => scaleBench(dir, env('BENCH_SCALE_PINS', 1_000_000), env('BENCH_SCALE_BLOCKS', 10_000_000)),
}
/** Sections run only when BENCH_ONLY names them. */
const OPT_IN = new Set(['scale', 'load', 'backends'])
if (only != null && !(only in sections)) {
  throw new Error(`BENCH_ONLY=${only}: expected one of ${Object.keys(sections).join(', ')}`)
}
const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ipfs-kit-bench-'))
try {
  const out = [
    `## Run of ${new Date().toISOString()}`,
    '',
    `Command: \`npm run bench\` (BENCH_SIZE_MB=${sizeMb}, BENCH_RUNS=${runs}${only ? `, BENCH_ONLY=${only}` : ''})`,
    '',
    '### Machine',
    '',
    ...machineReport(dir),
    '',
  ]
  for (const [name, run] of Object.entries(sections)) {
    if (only === name || (only == null && !OPT_IN.has(name))) out.push(await run(dir), '')
  }
  out.push(`Load average (1, 5, 15 min) at the end: ${loadavg()}`)
  const report = out.join('\n')
  console.log(report)
  const results = new URL('./results/', import.meta.url).pathname
  mkdirSync(results, { recursive: true })
  writeFileSync(join(results, 'latest.md'), `${report}\n`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
