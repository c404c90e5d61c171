import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

/**
 * As Kubo's pinner (boxo/pinning/pinner/dspinner keys pins by the whole CID, `c.KeyString()`): the
 * CIDv0 and the CIDv1 of one DAG are two pins, each with its own name and policy, while the blocks
 * are stored once (keyed by multihash) and stay as long as either pin wants them. Kubo 0.41 does
 * the same: `ipfs pin add <v1>` after `ipfs add` lists both, and `pin rm <v0>` + `repo gc` keeps v1.
 */
describe('the CIDv0 and CIDv1 of one DAG', () => {
  const tmp = suiteTempDir()

  it('are two pins sharing one copy of the blocks: unpinning one keeps every block the other needs', async () => {
    const home = join(tmp.dir, 'versions')
    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 700_000, 'v0v1')
    const v0 = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const v1 = CID.parse(v0).toV1().toString()
    assert.match(v0, /^Qm/)
    const blocksBefore = JSON.parse((await run(['--json', 'repo', 'stat'], { home })).stdout.toString())

    // a port of its own for the embedded node: other daemons on this machine may hold the default
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
    const d = await startDaemon(home)
    try {
      const added = await run(['pin', 'add', v1, '--name', 'as-v1'], { home })
      assert.equal(added.code, 0, added.stderr)
      // a sync already running when the pin arrived may not include it: sync until it is settled
      const deadline = Date.now() + 60_000
      while ((await json(d.call(`/pins/${v1}`))).status === 'queued' && Date.now() < deadline)
        await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      const list = JSON.parse((await run(['--json', 'pin', 'list'], { home })).stdout.toString())
      const pins = list.results.map((p: { requestid: string; status: string; pin: { name?: string } }) => [
        p.requestid,
        p.status,
        p.pin.name ?? null,
      ])
      assert.deepEqual(
        pins.sort(),
        [
          [v0, 'pinned', null],
          [v1, 'pinned', 'as-v1'],
        ].sort(),
      )
      assert.equal((await run(['pin', 'rm', v0], { home })).code, 0)
    } finally {
      await d.stop()
    }

    const stat = JSON.parse((await run(['--json', 'repo', 'stat'], { home })).stdout.toString())
    assert.equal(stat.NumObjects, blocksBefore.NumObjects, 'pinning the v1 form stored no second copy')
    const gc = JSON.parse((await run(['--json', 'gc'], { home })).stdout.toString())
    assert.equal(gc.removedBlocks, 0, 'the v1 pin still wants every block')
    const cat = await run(['ipfs', 'cat', v1], { home })
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdout.equals(readFileSync(file)))
    // the same bytes under the v0 name: blocks are found by multihash, whatever the CID version
    assert.ok((await run(['ipfs', 'cat', v0], { home })).stdout.equals(readFileSync(file)))
  })
})
