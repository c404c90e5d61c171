import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { BIN, run, serveNode, suiteTempDir } from './helpers/cli.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

describe('kill -9 during ipfs add', () => {
  const tmp = suiteTempDir()

  it('leaves every stored block intact and every acknowledged add complete', async () => {
    const home = join(tmp.dir, 'home')
    const files = [0, 1, 2, 3, 4].map((i) => {
      const f = join(tmp.dir, `f${i}.bin`)
      writeRandomFile(f, 64 * MiB, `crash-${i}`)
      return f
    })
    const acknowledged: { cid: string; file: string }[] = []
    // random kill moments (printed on failure); the last add is left to finish
    const delays = files.map((_, i) =>
      i === files.length - 1 ? 120_000 : 20 + Math.floor(Math.random() * 1200),
    )
    for (const [i, file] of files.entries()) {
      const child = spawn(process.execPath, [BIN, 'ipfs', 'add', '-Q', file], {
        env: { ...process.env, IPFS_KIT_HOME: home },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stdout = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString()
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), delays[i])
      await once(child, 'close')
      clearTimeout(timer)
      // an add is acknowledged once it printed its CID
      if (stdout.trim() !== '') acknowledged.push({ cid: stdout.trim(), file })
    }
    const verify = await run(['repo', 'verify'], { home })
    assert.equal(
      verify.code,
      0,
      `kill delays ${delays}: a stored block failed to re-hash:\n${verify.stdout}${verify.stderr}`,
    )
    assert.ok(acknowledged.length >= 1, 'the last add runs to completion')
    for (const { cid, file } of acknowledged) {
      const cat = await run(['ipfs', 'cat', cid], { home })
      assert.equal(cat.code, 0, cat.stderr)
      assert.ok(cat.stdout.equals(readFileSync(file)), `acknowledged add ${cid} is complete`)
    }
    // gc after crashes reclaims the orphaned bytes and keeps what is pinned
    assert.equal((await run(['gc'], { home })).code, 0)
    assert.equal((await run(['repo', 'verify'], { home })).code, 0)
  })
})

describe('two nodes over bitswap', () => {
  const tmp = suiteTempDir()

  it('fetches content from a peer with --peer, and times out cleanly on a block nobody has', async () => {
    const a = join(tmp.dir, 'a')
    const b = join(tmp.dir, 'b')
    const file = join(tmp.dir, 'shared.bin')
    writeRandomFile(file, 3 * MiB, 'bitswap')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home: a })).stdout.toString().trim()
    const server = await serveNode(a)
    try {
      const addr = server.addr
      assert.match(addr, /\/p2p\/12D3Koo/)
      const out = join(tmp.dir, 'fetched.bin')
      const got = await run(['ipfs', 'get', cid, '--peer', addr, '-o', out], { home: b })
      assert.equal(got.code, 0, got.stderr)
      assert.ok(readFileSync(out).equals(readFileSync(file)))
      // the fetched blocks are now local: cat works without the peer
      const local = await run(['ipfs', 'cat', cid], { home: b })
      assert.ok(local.stdout.equals(readFileSync(file)))

      const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
      const started = Date.now()
      const r = await run(['ipfs', 'cat', missing, '--peer', addr, '--timeout', '1500'], { home: b })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /timed out after 1500 ms fetching/)
      assert.ok(Date.now() - started < 30_000, 'a missing block must time out, not hang')
    } finally {
      await server.stop()
    }
  })

  it('refuses an unreachable peer with a clear error', async () => {
    const r = await run(
      [
        'ipfs',
        'cat',
        'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
        '--peer',
        '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh6Qcn7E3qqbDQcU4Y4CYvbUs4A8uvQyxRtmoZNbw',
      ],
      { home: join(tmp.dir, 'c') },
    )
    assert.equal(r.code, 1)
    assert.match(r.stderr, /cannot connect to peer/)
  })
})
