import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { suiteTempDir } from '../../test/helpers/cli.ts'
import { openStateDb } from './db.ts'
import { PinStore } from './pins.ts'
import { ReplicaStore } from './replicas.ts'

describe('counts kept by triggers', () => {
  const tmp = suiteTempDir()

  it('match a full count after adds, status changes, upserts, removals and cascades', () => {
    const db = openStateDb(join(tmp.dir, 'state.db'))
    const pins = new PinStore(db)
    const replicas = new ReplicaStore(db)
    for (let i = 0; i < 50; i++) {
      pins.add(`cid-${i}`, { status: i % 5 === 0 ? 'queued' : 'pinned' })
      replicas.set(`cid-${i}`, 'local', 'verified')
      if (i % 2 === 0) replicas.set(`cid-${i}`, 'nas', 'copying')
    }
    pins.add('cid-1', { name: 'again' }) // an upsert keeps pinned
    pins.setStatus('cid-0', 'failed', 'gone')
    replicas.set('cid-2', 'nas', 'verified')
    replicas.set('cid-8', 'nas', 'verified') // an upsert into a (backend, state) already counted
    replicas.set('cid-8', 'nas', 'failed', 'corrupt')
    replicas.set('cid-8', 'nas', 'verified')
    replicas.remove('cid-4', 'nas')
    pins.remove('cid-6') // cascades to its two replicas
    const full = (sql: string) => db.prepare(sql).all()
    const byStatus = Object.fromEntries(
      (full('SELECT status, count(*) AS n FROM pins GROUP BY status') as { status: string; n: number }[]).map(
        (r) => [r.status, r.n],
      ),
    )
    assert.deepEqual(pins.counts(), { queued: 0, pinned: 0, failed: 0, ...byStatus })
    assert.deepEqual(
      replicas.summary(),
      full(
        'SELECT backend, state, count(*) AS n FROM replicas GROUP BY backend, state ORDER BY backend, state',
      ),
    )
    // PSA statuses: a pinned pin with a copy in flight is pinning
    const pinning = pins.count({ statuses: ['pinning'] })
    assert.equal(pinning, pins.page({ statuses: ['pinning'] }, 1000).length)
    assert.equal(pins.count({ statuses: ['pinned', 'pinning'] }), byStatus.pinned)
    db.close()
  })
})
