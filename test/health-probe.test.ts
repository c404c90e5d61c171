import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { FilesystemBackend } from '../src/backends/filesystem.ts'
import type { Backend, HealthReport } from '../src/backends/types.ts'
import { EventBus } from '../src/daemon/events.ts'
import { Supervisor } from '../src/daemon/supervisor.ts'
import { openStateDb } from '../src/state/db.ts'
import { suiteTempDir } from './helpers/cli.ts'

/** A test-only backend whose health probe never returns (a hung NFS mount, a wedged remote API). */
class HungBackend implements Backend {
  readonly name = 'hung'
  readonly type = 'test-hung'
  probes = 0
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  health(): Promise<HealthReport> {
    this.probes++
    return new Promise<HealthReport>(() => {})
  }
  async has(): Promise<boolean> {
    return false
  }
  async put(): Promise<void> {}
  async *get(): AsyncIterable<Uint8Array> {}
  async verify() {
    return { ok: false, blocks: 0, bytes: 0 }
  }
  async unpin(): Promise<void> {}
  async stat() {
    return { usedBytes: 0, pins: 0 }
  }
}

describe('health probes', () => {
  const tmp = suiteTempDir()

  it('a probe that never returns reports unhealthy: timed out, holds up no other backend, and is not started twice', async () => {
    const db = openStateDb(join(tmp.dir, 'state.db'))
    const dir = join(tmp.dir, 'nas')
    mkdirSync(dir)
    const hung = new HungBackend()
    const fs = new FilesystemBackend(
      { name: 'nas', type: 'filesystem', path: dir },
      { dataDir: tmp.dir, log: () => {} },
    )
    // the hung backend first: a sequential round would make `nas` wait for its deadline
    const sup = new Supervisor(db, [hung, fs], new EventBus(), { probeTimeoutMs: 300 })
    try {
      await sup.startAll()
      await sup.probeAll()
      await sup.probeAll()
      const h = sup.view('hung').health!
      const n = sup.view('nas').health!
      assert.equal(h.status, 'unhealthy')
      assert.match(h.error ?? '', /^timed out/)
      assert.equal(n.status, 'healthy')
      assert.ok(n.checkedAt < h.checkedAt, 'nas was recorded before the hung probe gave up')
      assert.equal(hung.probes, 1, 'a hung probe is waited on again, never started again')
      assert.equal(sup.usable('hung'), false)
      assert.equal(sup.usable('nas'), true)
      const history = sup.history('hung')
      assert.ok(history.length >= 2 && history.every((r) => r.status === 'unhealthy'))
    } finally {
      await sup.stopAll()
      db.close()
    }
  })
})
