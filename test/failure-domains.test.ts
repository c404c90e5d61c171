/**
 * Failure domains: backends `a` and `b` share rack1, `c` is alone in rack2. A pin with min 3 is
 * placed on local + one of rack1 + rack2, not on both rack1 backends (two replicas in one domain
 * count once while another domain is usable). With rack2 stopped, no other domain is usable, so the
 * second rack1 backend takes a copy and each replica counts.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

describe('failure domains', () => {
  const tmp = suiteTempDir()

  it('two replicas in one domain count once while another domain is usable', async () => {
    const home = join(tmp.dir, 'home')
    const dirs = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, join(tmp.dir, n)]))
    for (const d of Object.values(dirs)) mkdirSync(d)
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      replication: { min_replicas: 3, max_replicas: 4, preferred: ['a', 'b', 'c'] },
      backends: [
        { name: 'a', type: 'filesystem', path: dirs.a, failure_domain: 'rack1' },
        { name: 'b', type: 'filesystem', path: dirs.b, failure_domain: 'rack1' },
        { name: 'c', type: 'filesystem', path: dirs.c, failure_domain: 'rack2' },
      ],
    })
    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 1 << 20, 'domains')
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const d = await startDaemon(home)
    try {
      const sync = async () => {
        const r = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
        assert.equal(r.status, 200, await r.text())
      }
      await sync()
      let pin = await json(d.call(`/pins/${cid}`))
      // preferred order alone would give a, b; the domain rule sends the third copy to rack2
      assert.deepEqual([...pin.info.verified].sort(), ['a', 'c', 'local'])
      assert.equal(pin.info.health, 'ok')

      // rack2 goes away: no other domain is usable, so b takes a copy and every replica counts
      const stop = await d.call('/backends/stop/c', { method: 'POST' })
      assert.ok(stop.ok, await stop.text())
      await sync()
      pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual([...pin.info.verified].sort(), ['a', 'b', 'local'])
      assert.equal(pin.info.health, 'ok')
    } finally {
      await d.stop()
    }
  })

  it('a bad failure_domain is refused naming the key', async () => {
    const home = join(tmp.dir, 'bad')
    writeConfig(home, {
      backends: [{ name: 'x', type: 'filesystem', path: tmp.dir, failure_domain: 'rack 1/../' }],
    })
    const r = await run(['daemon', 'start'], { home })
    assert.notEqual(r.code, 0)
    assert.match(r.stderr.toString(), /backends\[0\]\.failure_domain/)
  })
})
