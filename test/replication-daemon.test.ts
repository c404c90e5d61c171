import assert from 'node:assert/strict'
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { DaemonClient } from '../src/client/daemon-client.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20
/** The embedded node on an ephemeral port, so parallel test runs never fight over 4101. */
const node = { listen: ['/ip4/127.0.0.1/tcp/0'] }

async function until(cond: () => boolean, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`)
    await new Promise((r) => setTimeout(r, 2))
  }
}

describe('a daemon killed or slow mid-replication', () => {
  const tmp = suiteTempDir()

  it('kill -9 during a copy leaves a .car.tmp-* file, and the restarted daemon sweeps it', async () => {
    const home = join(tmp.dir, 'killed')
    const fs1 = join(tmp.dir, 'killed-fs1')
    mkdirSync(fs1)
    writeConfig(home, {
      node,
      backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
      replication: { min_replicas: 2, max_replicas: 2 },
    })
    const file = join(tmp.dir, 'killed.bin')
    writeRandomFile(file, 96 * MiB, 'killed')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    let d = await startDaemon(home) // its start-up pass copies the pin to fs1
    const temps = () => readdirSync(fs1).filter((f) => f.includes('.car.tmp-'))
    await until(() => temps().length > 0, 'the copy started')
    d.child.kill('SIGKILL')
    await new Promise((r) => d.child.once('exit', r))
    const left = temps()
    assert.equal(left.length, 1, 'the killed copy left its temp file')
    d = await startDaemon(home)
    try {
      await until(() => !readdirSync(fs1).includes(left[0]!), 'the dead writer temp file was swept')
      const r = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(r.status, 200)
      const pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual([...pin.info.verified].sort(), ['fs1', 'local'])
      assert.deepEqual(readdirSync(fs1), [`${cid}.car`], 'nothing but the pin CAR')
    } finally {
      await d.stop()
    }
  })

  it('pin rm during a copy of a large pin: after the next sync no CAR and no temp file of it remain', async () => {
    const home = join(tmp.dir, 'removed')
    const fs1 = join(tmp.dir, 'removed-fs1')
    mkdirSync(fs1)
    writeConfig(home, {
      node,
      backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
      replication: { min_replicas: 2, max_replicas: 2 },
    })
    const file = join(tmp.dir, 'removed.bin')
    writeRandomFile(file, 96 * MiB, 'removed')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const d = await startDaemon(home) // its start-up pass copies the pin to fs1
    try {
      await until(() => readdirSync(fs1).some((f) => f.includes('.car.tmp-')), 'the copy started')
      const rm = await d.call(`/pins/${cid}`, { method: 'DELETE' })
      assert.equal(rm.status, 202)
      const r = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(r.status, 200)
      assert.deepEqual(readdirSync(fs1), [], 'no CAR and no temp file of the removed pin')
    } finally {
      await d.stop()
    }
  })

  it('sync --wait outlasts the client request timeout: it follows the pass on /events', async () => {
    const home = join(tmp.dir, 'slow')
    writeConfig(home, {
      // a peer that never answers: fetching a pin nobody has takes the whole fetch timeout
      node: {
        ...node,
        peers: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'],
        fetch_timeout_ms: 2500,
      },
    })
    const d = await startDaemon(home)
    try {
      const missing = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('nobody has me')))
      const client = new DaemonClient({ dataDir: home, timeoutMs: 500 })
      await client.pin(missing.toString())
      const seen: string[] = []
      const r = await client.sync({ wait: true, onEvent: (e) => seen.push(e.phase) })
      const report = r.report as { pass: number; pins: number; failed: number }
      assert.equal(report.pins, 1)
      assert.equal(report.failed, 1, 'the pass waited out the fetch of the missing pin')
      assert.equal(seen.at(-1), 'finished')
      const pin = await client.getPin(missing.toString())
      assert.equal(pin.status, 'failed')
    } finally {
      await d.stop()
    }
  })
})
