import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatReport, torture, tortureFailures } from '../scripts/torture.ts'

// The short form of `npm run torture` (200 cycles): 20 crash cycles of a real daemon and real CLI
// processes adding, pinning, unpinning, writing VFS files and replicating to two filesystem backends,
// kill -9 at random.
describe('crash torture (20 cycles)', () => {
  it('loses no acknowledged add, pin, unpin or VFS write across 20 kill -9 of the daemon', async () => {
    const lines: string[] = []
    const r = await torture({ cycles: 20, maxKillMs: 1000, readEachCycle: false, log: (l) => lines.push(l) })
    const table = formatReport(r)
    const failures = tortureFailures(r)
    assert.deepEqual(
      failures,
      [],
      `seed ${r.seed} (replay: npm run torture -- --cycles 20 --seed ${r.seed}):\n${table}\n${r.problems.join('\n')}\n${lines.slice(-20).join('\n')}`,
    )
    assert.equal(r.cycles, 20)
    assert.equal(r.daemonKills, 20)
    // the workload really ran: something was acknowledged in every category
    assert.ok(r.acknowledged.adds > 0, table)
    assert.ok(r.acknowledged.pins + r.acknowledged.unpins > 0, table)
    assert.ok(r.acknowledged.vfsWrites > 0, table)
  })
})
