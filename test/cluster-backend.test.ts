/**
 * The `ipfs-cluster` backend against a real IPFS Cluster v1.0.8: two cluster peers on loopback, each
 * with its own Kubo 0.41. A pin with min 2 goes to the cluster as a CAR with replication factors 2/2
 * and its name, and lands pinned on both peers' Kubo nodes; stopping one peer shows the pin degraded
 * (1 of 2 peers) in `pin status` and `route inspect`, and the backend degraded in health.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { inspect } from 'node:util'
import { run, suiteTempDir } from './helpers/cli.ts'
import { type Cluster, startCluster } from './helpers/cluster.ts'
import { json, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { until, writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

describe('ipfs-cluster backend', () => {
  const tmp = suiteTempDir()
  let cluster: Cluster
  let d: TestDaemon
  let home: string

  before(async () => {
    cluster = await startCluster(2)
    home = join(tmp.dir, 'kit')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      health_check_interval: 1,
      replication: { min_replicas: 2, max_replicas: 2 },
      backends: [
        {
          name: 'cluster',
          type: 'ipfs-cluster',
          api_url: cluster.peers[0]!.apiUrl,
          proxy_url: cluster.peers[0]!.proxyUrl,
          poll_interval_ms: 200,
        },
      ],
    })
    d = await startDaemon(home)
  })
  after(async () => {
    await d?.stop()
    await cluster?.close()
  })

  it('a pin with min 2 lands on both peers; one peer stopped: degraded in pin status, route inspect and health', async () => {
    try {
      await scenario()
    } catch (err) {
      // name the step and show the whole thrown value (a bare object prints as {} otherwise)
      throw new Error(`failed after step "${step}": ${inspect(err, { depth: 4 })}`)
    }
  })

  let step = 'start'
  const mark = (s: string) => {
    step = s
    process.stderr.write(`[cluster-backend] ${new Date().toISOString()} ${s}\n`)
  }

  async function scenario(): Promise<void> {
    const [p0, p1] = cluster.peers as [Cluster['peers'][0], Cluster['peers'][0]]
    mark('waiting for the backend to be healthy')
    await until('cluster backend healthy', async () => {
      const b = (await json(d.call('/backends'))).backends.find((x: { name: string }) => x.name === 'cluster')
      return b.health?.status === 'healthy' ? b : undefined
    })
    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 3 * MiB, 'cluster-backend')
    const added = await run(['ipfs', 'add', '-Q', '--cid-version=1', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const pinned = await d.call('/pins', { method: 'POST', json: { cid, name: 'clustered' } })
    assert.ok(pinned.ok, await pinned.text())
    mark('first sync')
    const sync = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
    assert.equal(sync.status, 200, await sync.text())
    const status = await json(d.call(`/pins/${cid}`))
    assert.deepEqual([...status.info.verified].sort(), ['cluster', 'local'])
    assert.equal(status.info.health, 'ok')
    const replica = status.info.replicas.find((r: { backend: string }) => r.backend === 'cluster')
    assert.equal(replica.detail, 'pinned on 2 of 2 cluster peers')

    // the cluster holds it with our name and policy, pinned on both peers' Kubo nodes
    const alloc = await json(fetch(`${p0.apiUrl}/allocations/${cid}`))
    assert.equal(alloc.name, 'clustered')
    assert.equal(alloc.replication_factor_min, 2)
    assert.equal(alloc.replication_factor_max, 2)
    assert.equal(alloc.metadata.ipfs_kit_backend, 'cluster')
    for (const p of [p0, p1]) {
      const ls = await p.kubo.ipfs(['pin', 'ls', '--type=recursive', cid])
      assert.match(ls, new RegExp(`${cid} recursive`))
      // and the bytes are whole there: Kubo's own cat, offline
      const cat = await p.kubo.ipfsBytes(['cat', '--offline', cid])
      assert.equal(cat.length, 3 * MiB)
    }
    // route inspect reads the pin index, republished within a second of the change
    await until(
      'route inspect shows 2 of 2 peers',
      async () => {
        const r = await run(['route', 'inspect', cid], { home })
        assert.equal(r.code, 0, r.stderr)
        return /cluster .*\(pinned on 2 of 2 cluster peers\)/.test(r.stdout.toString()) ? r : undefined
      },
      10_000,
    )

    mark('stopping peer 1')
    // stop the second peer
    await p1.stop()
    await until('cluster backend degraded', async () => {
      const b = (await json(d.call('/backends'))).backends.find((x: { name: string }) => x.name === 'cluster')
      return b.health?.status === 'degraded' ? b : undefined
    })
    mark('sync with verify, peer 1 down')
    const resync = await d.call('/replication/sync', { method: 'POST', json: { wait: true, verify: true } })
    assert.equal(resync.status, 200, await resync.text())
    const degraded = await json(d.call(`/pins/${cid}`))
    assert.equal(degraded.info.health, 'degraded')
    assert.equal(
      degraded.info.replicas.find((r: { backend: string }) => r.backend === 'cluster').detail,
      'degraded: pinned on 1 of 2 cluster peers',
    )
    // still counted: the data is on a peer, verified through its proxy
    assert.deepEqual([...degraded.info.verified].sort(), ['cluster', 'local'])
    const pinStatus = await run(['pin', 'status', cid], { home })
    assert.equal(pinStatus.code, 0, pinStatus.stderr)
    assert.match(pinStatus.stdout.toString(), /\(degraded\)/)
    assert.match(pinStatus.stdout.toString(), /degraded: pinned on 1 of 2 cluster peers/)
    const inspect2 = await until(
      'route inspect shows it degraded',
      async () => {
        const r = await run(['route', 'inspect', cid], { home })
        return /degraded: pinned on 1 of 2 cluster peers/.test(r.stdout.toString()) ? r : undefined
      },
      10_000,
    )
    assert.match(inspect2.stdout.toString(), /cluster/)

    mark('restarting peer 1')
    // the peer comes back: whole again
    await p1.start()
    await until(
      'pinned on 2 of 2 again',
      async () => {
        await d.call('/replication/sync', { method: 'POST', json: { wait: true, verify: true } })
        const p = await json(d.call(`/pins/${cid}`))
        return p.info.health === 'ok' ? p : undefined
      },
      180_000,
    )

    mark('pin rm')
    // pin rm removes it from the cluster
    const rm = await d.call(`/pins/${cid}`, { method: 'DELETE' })
    assert.ok(rm.ok, await rm.text())
    await until('the cluster drops it', async () =>
      (await fetch(`${p0.apiUrl}/allocations/${cid}`)).status === 404 ? true : undefined,
    )
  }
})
