import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runLoad } from '../bench/load.ts'
import { suiteTempDir } from './helpers/cli.ts'

// The short form of `BENCH_ONLY=load npm run bench` (60 s; the 24-hour soak is the same command with
// BENCH_LOAD_SECONDS=86400): 100 concurrent clients for 20 s against a real daemon and server on one
// data directory, mixing pin adds, status reads, gateway reads, the server's API and MCP tool calls.
describe('load (20 s, 100 clients)', () => {
  const tmp = suiteTempDir()

  it('answers every request of the mix (0 errors), and memory and descriptors stay bounded', async () => {
    const r = await runLoad(tmp.dir, 20, 100)
    assert.equal(r.errors, 0, r.table)
    assert.ok(r.requests > 1000, `only ${r.requests} requests in 20 s:\n${r.table}`)
    for (const [who, samples] of [
      ['daemon', r.samples],
      ['server', r.serverSamples],
    ] as const) {
      const maxRss = Math.max(...samples.map((s) => s.rssMiB))
      const maxFds = Math.max(...samples.map((s) => s.fds))
      // bounds, not timings: far above what a healthy run uses, far below what a leak reaches
      assert.ok(maxRss < 512, `${who} RSS reached ${maxRss.toFixed(0)} MiB:\n${r.table}`)
      assert.ok(maxFds < 1024, `${who} held ${maxFds} descriptors:\n${r.table}`)
    }
    console.log(r.table)
  })
})
