/**
 * ipfs-kit's IPFS Pinning Service API (under /psa) driven by a real client: Kubo 0.41's `ipfs pin
 * remote`. Kubo holds the content, ipfs-kit does not: Kubo sends its addresses as origins and ipfs-kit
 * fetches the DAG from it over bitswap. Then ls with status filters and rm. Plus the spec's shapes
 * (Failure bodies, token on reads, default status filter, meta filter, replace).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, type Loose, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import { type KuboDaemon, startKuboDaemon } from './helpers/kubo-daemon.ts'

const MiB = 1 << 20

describe('Pinning Service API', () => {
  const tmp = suiteTempDir()
  let kubo: KuboDaemon
  let d: TestDaemon
  let home: string

  before(async () => {
    home = join(tmp.dir, 'kit')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], fetch_timeout_ms: 20_000 } })
    d = await startDaemon(home)
    kubo = await startKuboDaemon()
  })
  after(async () => {
    await d?.stop()
    await kubo?.close()
  })

  it("Kubo's ipfs pin remote add|ls|rm against /psa: ipfs-kit fetches the content from Kubo over bitswap", async () => {
    const file = join(tmp.dir, 'kubo-only.bin')
    writeRandomFile(file, 3 * MiB, 'psa-kubo')
    const cid = await kubo.ipfs(['add', '-Q', '--cid-version=1', file])
    // ipfs-kit does not have it
    assert.equal((await d.call(`/pins/${cid}`)).status, 404)
    await kubo.ipfs(['pin', 'remote', 'service', 'add', 'kit', `${d.url}/psa`, d.token])
    // waits until the service says pinned (Kubo polls GET /psa/pins/<requestid>)
    const added = await kubo.ipfs(['pin', 'remote', 'add', '--service=kit', '--name=from-kubo', cid])
    assert.match(added, /Status:\s+pinned/i)
    // ipfs-kit now holds every block: its own cat, offline, gives Kubo's bytes
    const cat = await run(['ipfs', 'cat', cid], { home })
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdout.equals(readFileSync(file)), 'the fetched content differs')
    const pin = await json(d.call(`/pins/${cid}`))
    assert.equal(pin.pin.name, 'from-kubo')
    assert.ok(pin.pin.origins.length > 0 && pin.pin.origins.every((o: string) => o.includes(kubo.peerId)))

    const ls = await kubo.ipfs([
      'pin',
      'remote',
      'ls',
      '--service=kit',
      '--status=pinned,queued,pinning,failed',
    ])
    assert.match(ls, new RegExp(`${cid}\\s+pinned\\s+from-kubo`))
    const byName = await kubo.ipfs(['pin', 'remote', 'ls', '--service=kit', '--name=from-kubo'])
    assert.match(byName, new RegExp(cid))
    const failedOnly = await kubo.ipfs(['pin', 'remote', 'ls', '--service=kit', '--status=failed'])
    assert.equal(failedOnly, '')

    await kubo.ipfs(['pin', 'remote', 'rm', '--service=kit', `--cid=${cid}`])
    assert.equal(
      await kubo.ipfs(['pin', 'remote', 'ls', '--service=kit', '--status=pinned,queued,pinning,failed']),
      '',
    )
    assert.equal((await d.call(`/pins/${cid}`)).status, 404)
  })

  it('answers in the spec shapes: Failure bodies, the token on reads, pinned by default, meta filter, replace', async () => {
    const psa = (path: string, init: RequestInit & { json?: unknown; auth?: boolean } = {}) =>
      d.call(`/psa${path}`, init)
    // reads need the token too
    const anon = await psa('/pins', { auth: false })
    assert.equal(anon.status, 401)
    const failure = (await anon.json()) as Loose
    assert.equal(failure.error.reason, 'UNAUTHORIZED')
    assert.match(failure.error.details, /Bearer/)
    const bad = await psa('/pins', { method: 'POST', json: { cid: 'not-a-cid' } })
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as Loose).error.reason, 'BAD_REQUEST')
    const badOrigin = await psa('/pins', {
      method: 'POST',
      json: { cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', origins: ['nope'] },
    })
    assert.equal(badOrigin.status, 400)
    assert.match(((await badOrigin.json()) as Loose).error.details, /invalid origin "nope"/)
    assert.equal((await psa('/pins/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')).status, 404)

    // content ipfs-kit has: pinned at once
    const file = join(tmp.dir, 'local.bin')
    writeRandomFile(file, 64 * 1024, 'psa-local')
    const cid = (await run(['ipfs', 'add', '-Q', '--pin=false', file], { home })).stdout.toString().trim()
    const created = await psa('/pins', {
      method: 'POST',
      json: { cid, name: 'mine', meta: { app: 'test', n: '1' } },
    })
    assert.equal(created.status, 202)
    const status = (await created.json()) as Loose
    assert.equal(status.requestid, cid)
    assert.ok(['queued', 'pinning', 'pinned'].includes(status.status))
    assert.ok(status.delegates.length > 0 && status.delegates.every((a: string) => a.includes('/p2p/')))
    assert.ok(!Number.isNaN(Date.parse(status.created)))
    for (const v of Object.values(status.info)) assert.equal(typeof v, 'string', 'info is a map of strings')
    await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
    // the default status filter is pinned; meta filters by pairs
    const list = await json(psa('/pins'))
    assert.ok(list.results.some((r: { requestid: string }) => r.requestid === cid))
    const meta = await json(psa(`/pins?meta=${encodeURIComponent(JSON.stringify({ app: 'test' }))}`))
    assert.deepEqual(
      meta.results.map((r: { requestid: string }) => r.requestid),
      [cid],
    )
    const none = await json(psa(`/pins?meta=${encodeURIComponent(JSON.stringify({ app: 'other' }))}`))
    assert.equal(none.count, 0)
    // replace: the old request is gone, the new one listed
    const file2 = join(tmp.dir, 'local2.bin')
    writeRandomFile(file2, 32 * 1024, 'psa-local2')
    const cid2 = (await run(['ipfs', 'add', '-Q', '--pin=false', file2], { home })).stdout.toString().trim()
    const replaced = await psa(`/pins/${cid}`, { method: 'POST', json: { cid: cid2, name: 'mine-v2' } })
    assert.equal(replaced.status, 202)
    assert.equal(((await replaced.json()) as Loose).requestid, cid2)
    assert.equal((await psa(`/pins/${cid}`)).status, 404)
    assert.equal((await json(psa(`/pins/${cid2}`))).pin.name, 'mine-v2')
    assert.equal((await psa(`/pins/${cid2}`, { method: 'DELETE' })).status, 202)
  })
})
