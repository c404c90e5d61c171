/**
 * ipfs-kit and a real Kubo 0.41 daemon on loopback exchange content both ways: over bitswap (our
 * embedded node fetches what Kubo added, Kubo fetches what our node serves) and as CAR files (`dag
 * export` on one side, `dag import` on the other, and back). CIDs, bytes and CARs must be identical.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { run, serveNode, suiteTempDir } from './helpers/cli.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import { type KuboDaemon, startKuboDaemon } from './helpers/kubo-daemon.ts'

const MiB = 1 << 20

describe('ipfs-kit and Kubo, both ways', () => {
  const tmp = suiteTempDir()
  let kubo: KuboDaemon
  before(async () => {
    kubo = await startKuboDaemon()
  })
  after(async () => {
    await kubo?.close()
  })

  it('bitswap: ipfs-kit fetches a file Kubo added, and Kubo fetches one ipfs-kit serves', async () => {
    const home = join(tmp.dir, 'bitswap')
    // Kubo -> ipfs-kit
    const theirs = join(tmp.dir, 'from-kubo.bin')
    writeRandomFile(theirs, 5 * MiB, 'from-kubo')
    const theirCid = await kubo.ipfs(['add', '-Q', '--cid-version=1', theirs])
    const out = join(tmp.dir, 'fetched.bin')
    const got = await run(
      ['ipfs', 'get', theirCid, '--peer', kubo.addrs[0]!, '--timeout', '30000', '-o', out],
      {
        home,
      },
    )
    assert.equal(got.code, 0, got.stderr)
    assert.ok(readFileSync(out).equals(readFileSync(theirs)), 'the bytes fetched from Kubo differ')

    // ipfs-kit -> Kubo
    const ours = join(tmp.dir, 'from-kit.bin')
    writeRandomFile(ours, 5 * MiB, 'from-kit')
    const added = await run(['ipfs', 'add', '-Q', ours], { home })
    assert.equal(added.code, 0, added.stderr)
    const ourCid = added.stdout.toString().trim()
    // the same CID Kubo computes for the same file (CIDv0, Kubo's defaults)
    assert.equal(await kubo.ipfs(['add', '-Q', '--only-hash', ours]), ourCid)
    const node = await serveNode(home)
    try {
      await kubo.ipfs(['swarm', 'connect', node.addr])
      const bytes = await kubo.ipfsBytes(['cat', '--timeout=30s', ourCid])
      assert.ok(bytes.equals(readFileSync(ours)), 'the bytes Kubo fetched from ipfs-kit differ')
      // Kubo now holds every block: it pins it without asking anyone
      await kubo.ipfs(['pin', 'add', '--timeout=10s', ourCid])
    } finally {
      await node.stop()
    }
  })

  it('CAR: ipfs-kit dag export -> Kubo dag import, and Kubo dag export -> ipfs-kit dag import, identical both ways', async () => {
    const home = join(tmp.dir, 'car')
    // ipfs-kit -> Kubo: a directory, so the DAG has more than one node type
    const dir = join(tmp.dir, 'tree')
    const files = ['a.bin', 'b.bin']
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir)
    for (const [i, f] of files.entries()) writeRandomFile(join(dir, f), (i + 1) * MiB + 17, `car-${f}`)
    const added = await run(['ipfs', 'add', '-Q', '-r', '--cid-version', '1', dir], { home })
    assert.equal(added.code, 0, added.stderr)
    const ourRoot = added.stdout.toString().trim()
    const exported = await run(['ipfs', 'dag', 'export', ourRoot], { home })
    assert.equal(exported.code, 0, exported.stderr)
    const ourCar = join(tmp.dir, 'ours.car')
    writeFileSync(ourCar, exported.stdout)
    const imported = JSON.parse(await kubo.ipfs(['dag', 'import', '--pin-roots', '--enc=json', ourCar]))
    assert.equal(imported.Root.Cid['/'], ourRoot)
    assert.equal(imported.Root.PinErrorMsg ?? '', '')
    const back = await kubo.ipfsBytes(['dag', 'export', ourRoot])
    assert.ok(back.equals(exported.stdout), "Kubo's export of our DAG is not the CAR we gave it")
    assert.ok((await kubo.ipfsBytes(['cat', `${ourRoot}/b.bin`])).equals(readFileSync(join(dir, 'b.bin'))))

    // Kubo -> ipfs-kit
    const theirs = join(tmp.dir, 'kubo-car.bin')
    writeRandomFile(theirs, 3 * MiB + 5, 'kubo-car')
    const theirRoot = await kubo.ipfs(['add', '-Q', '--raw-leaves', theirs])
    const theirCar = join(tmp.dir, 'theirs.car')
    writeFileSync(theirCar, await kubo.ipfsBytes(['dag', 'export', theirRoot]))
    const imp = await run(['ipfs', 'dag', 'import', theirCar], { home })
    assert.equal(imp.code, 0, imp.stderr)
    assert.match(imp.stdout.toString(), new RegExp(theirRoot))
    const cat = await run(['ipfs', 'cat', theirRoot], { home })
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdout.equals(readFileSync(theirs)), 'the file read from the imported CAR differs')
    const reexport = await run(['ipfs', 'dag', 'export', theirRoot], { home })
    assert.ok(
      reexport.stdout.equals(readFileSync(theirCar)),
      'our export of the imported DAG is not the CAR Kubo made',
    )
  })
})
