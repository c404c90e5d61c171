import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { withDaemon } from '../src/client/compose.ts'
import { DaemonApiError, DaemonClient, DaemonUnavailableError } from '../src/client/daemon-client.ts'
import { RouteReader } from '../src/client/route-reader.ts'
import { run, tempDir } from './helpers/cli.ts'
import { startDaemon, type TestDaemon } from './helpers/daemon.ts'

describe('DaemonClient against a real daemon', () => {
  let tmp: ReturnType<typeof tempDir>
  let home: string
  let d: TestDaemon
  let cid: string
  before(async () => {
    tmp = tempDir()
    home = join(tmp.dir, 'home')
    cid = (await run(['ipfs', 'add', '-Q', '--pin=false'], { home, input: 'client test\n' })).stdout
      .toString()
      .trim()
    d = await startDaemon(home)
  })
  after(async () => {
    await d.stop()
    tmp.cleanup()
  })

  it('finds the daemon and its token from the data directory, and pins, reads and unpins', async () => {
    const c = new DaemonClient({ dataDir: home })
    assert.equal((await c.health()).status, 'ok')
    const pinned = await c.pin(cid, { name: 'lib', policy: { min_replicas: 1 } })
    assert.equal(pinned.requestid, cid)
    await c.sync({ wait: true })
    const got = await c.getPin(cid)
    assert.equal(got.status, 'pinned', JSON.stringify(got.info))
    assert.equal((await c.pins({ status: 'pinned' })).count, 1)
    await c.unpin(cid)
    assert.equal((await c.pins()).count, 0)
  })

  it('streams events and reads the health history and OpenAPI document', async () => {
    const c = new DaemonClient({ dataDir: home })
    const abort = new AbortController()
    const seen: string[] = []
    const listening = (async () => {
      for await (const e of c.events(abort.signal)) {
        seen.push(e.type)
        if (e.type === 'pin') abort.abort()
      }
    })()
    await new Promise((r) => setTimeout(r, 200))
    await c.pin(cid, { name: 'evented' })
    await listening
    assert.ok(seen.includes('pin'))
    const history = await c.healthHistory('local')
    assert.ok(history.history.length >= 1)
    assert.ok((await c.openapi()).paths != null)
    await c.unpin(cid)
  })

  it('turns error answers into errors with the stable code and status', async () => {
    const c = new DaemonClient({ dataDir: home })
    await assert.rejects(c.getPin('nope'), (err: unknown) => {
      assert.ok(err instanceof DaemonApiError)
      assert.equal(err.code, 'ERR_INVALID_CID')
      assert.equal(err.status, 400)
      return true
    })
    const wrong = new DaemonClient({ dataDir: home, token: 'x'.repeat(64) })
    await assert.rejects(wrong.pin(cid), { code: 'ERR_UNAUTHORIZED' })
  })

  it('withDaemon gives access, and a fallback when the daemon is not running', async () => {
    const kit = withDaemon({ dataDir: home })
    assert.equal(await kit.available(), true)
    assert.equal(
      await kit.orElse(
        async (c) => (await c.health()).status,
        () => 'down',
      ),
      'ok',
    )
    const missing = withDaemon({ dataDir: join(tmp.dir, 'no-daemon-here') })
    assert.equal(await missing.available(), false)
    assert.equal(
      await missing.orElse(
        async (c) => (await c.health()).status,
        () => 'down',
      ),
      'down',
    )
  })
})

describe('DaemonClient without a daemon', () => {
  it('says how to start the daemon when there is no api file or nothing answers', async () => {
    const tmp = tempDir()
    try {
      await assert.rejects(new DaemonClient({ dataDir: tmp.dir }).status(), (err: unknown) => {
        assert.ok(err instanceof DaemonUnavailableError)
        assert.match((err as Error).message, /start it with `ipfs-kit daemon start`/)
        return true
      })
      const dead = new DaemonClient({ url: 'http://127.0.0.1:9', retries: 1 })
      await assert.rejects(dead.status(), DaemonUnavailableError)
    } finally {
      tmp.cleanup()
    }
  })

  it('retries idempotent calls on 503 but never a POST (stand-in server: the daemon cannot be made to answer 503 on demand)', async () => {
    let hits = 0
    const server = createServer((_req, res) => {
      hits++
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'ERR_UNAVAILABLE', message: 'closing' } }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    try {
      const c = new DaemonClient({ url: `http://127.0.0.1:${port}`, retries: 2, token: 't' })
      await assert.rejects(c.status(), { code: 'ERR_UNAVAILABLE' })
      assert.equal(hits, 3, 'GET: one try and two retries')
      hits = 0
      await assert.rejects(c.pin('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), {
        code: 'ERR_UNAVAILABLE',
      })
      assert.equal(hits, 1, 'POST: never retried')
    } finally {
      server.close()
    }
  })
})

describe('RouteReader', () => {
  it('reloads when the index file is replaced, and explains a missing index', async () => {
    const tmp = tempDir()
    try {
      const home = join(tmp.dir, 'home')
      const missing = new RouteReader({ dataDir: home })
      await assert.rejects(
        missing.inspect('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'),
        /no pin index at .* start the daemon once/,
      )
      const cid = (await run(['ipfs', 'add', '-Q'], { home, input: 'route me\n' })).stdout.toString().trim()
      const d = await startDaemon(home)
      try {
        const reader = new RouteReader({ dataDir: home })
        const first = await reader.inspect(cid)
        assert.equal(first.pinned, true)
        await d.call(`/pins/${cid}`, { method: 'DELETE' })
        const deadline = Date.now() + 5000
        let now = await reader.inspect(cid)
        while (now.pinned && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100))
          now = await reader.inspect(cid)
        }
        assert.equal(now.pinned, false, 'the reader saw the republished index')
      } finally {
        await d.stop()
      }
    } finally {
      tmp.cleanup()
    }
  })
})
