/**
 * The `pinning-service` backend pointed at a second ipfs-kit daemon's Pinning Service API: daemon A
 * pins with min 2 on its own node and on B (through B's /psa and B's token); B fetches the DAG from
 * A's node over bitswap (A's addresses are the request's origins) and holds it; A's replica on B
 * counts once B reports it pinned. Removing the pin on A withdraws the request on B.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { until, writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

describe('pinning-service backend against a second ipfs-kit', () => {
  const tmp = suiteTempDir()
  let a: TestDaemon
  let b: TestDaemon
  let homeA: string
  let homeB: string

  before(async () => {
    homeA = join(tmp.dir, 'a')
    homeB = join(tmp.dir, 'b')
    writeConfig(homeB, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], fetch_timeout_ms: 20_000 } })
    b = await startDaemon(homeB)
    writeConfig(homeA, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      health_check_interval: 1,
      replication: { min_replicas: 2, max_replicas: 2 },
      backends: [
        {
          name: 'kit-b',
          type: 'pinning-service',
          endpoint: `${b.url}/psa`,
          token: b.token,
          poll_interval_ms: 200,
        },
      ],
    })
    a = await startDaemon(homeA)
  })
  after(async () => {
    await a?.stop()
    await b?.stop()
  })

  it('a pin with min 2 lands on both daemons; B holds the bytes; pin rm on A withdraws it from B', async () => {
    const health = await until('kit-b healthy', async () => {
      const x = (await json(a.call('/backends'))).backends.find((y: { name: string }) => y.name === 'kit-b')
      return x.health?.status === 'healthy' ? x : undefined
    })
    assert.equal(health.type, 'pinning-service')
    // the token is a secret: never in GET /config
    const config = await (await a.call('/config')).text()
    assert.ok(!config.includes(b.token), 'the token leaked into GET /config')

    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 3 * MiB, 'psa-backend')
    const added = await run(['ipfs', 'add', '-Q', '--cid-version=1', file], { home: homeA })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const pinned = await a.call('/pins', { method: 'POST', json: { cid, name: 'both' } })
    assert.ok(pinned.ok, await pinned.text())
    const sync = await a.call('/replication/sync', { method: 'POST', json: { wait: true } })
    assert.equal(sync.status, 200, await sync.text())
    const status = await until('verified on local and kit-b', async () => {
      const p = await json(a.call(`/pins/${cid}`))
      return [...p.info.verified].sort().join() === 'kit-b,local' ? p : undefined
    })
    assert.equal(status.status, 'pinned')

    // B has the pin, as a request tagged with A's backend name, and the whole DAG in its blockstore
    const onB = await json(b.call(`/psa/pins?cid=${cid}`))
    assert.equal(onB.count, 1)
    assert.equal(onB.results[0].pin.meta.ipfs_kit_backend, 'kit-b')
    assert.ok(onB.results[0].pin.origins.length > 0)
    const cat = await run(['ipfs', 'cat', cid], { home: homeB })
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdout.equals((await run(['ipfs', 'cat', cid], { home: homeA })).stdout))
    const verify = await run(['repo', 'verify'], { home: homeB })
    assert.equal(verify.code, 0, verify.stderr.toString())

    // removing the pin on A withdraws the request on B
    const rm = await a.call(`/pins/${cid}`, { method: 'DELETE' })
    assert.ok(rm.ok, await rm.text())
    await until('the request gone from B', async () => {
      const r = await json(b.call(`/psa/pins?cid=${cid}&status=queued,pinning,pinned,failed`))
      return r.count === 0 ? true : undefined
    })
  })

  it('a bad token is an unhealthy backend whose error names the service, not the token', async () => {
    const res = await a.call('/backends', {
      method: 'POST',
      json: { name: 'kit-bad', type: 'pinning-service', endpoint: `${b.url}/psa`, token: 'wrong-token-123' },
    })
    assert.equal(res.status, 201, await res.text())
    const bad = await until('kit-bad unhealthy', async () => {
      const x = (await json(a.call('/backends'))).backends.find((y: { name: string }) => y.name === 'kit-bad')
      return x.health?.status === 'unhealthy' ? x : undefined
    })
    assert.match(bad.health.error, /pinning-service backend kit-bad: .*HTTP 401/)
    assert.ok(!JSON.stringify(bad).includes('wrong-token-123'))
    // a backend without a token is refused before anything is written
    const none = await a.call('/backends', {
      method: 'POST',
      json: { name: 'kit-none', type: 'pinning-service', endpoint: `${b.url}/psa` },
    })
    assert.equal(none.status, 400)
    assert.match((await json(none)).error.message, /token/)
  })
})
