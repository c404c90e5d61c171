import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { run, serveNode, suiteTempDir, tempDir } from './helpers/cli.ts'
import { json, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20
/** The embedded node on a free port: other daemons on this machine (other checkouts' tests) may hold 4101. */
const FREE_NODE_PORT = { listen: ['/ip4/127.0.0.1/tcp/0'] }

describe('daemon lifecycle', () => {
  const tmp = suiteTempDir()

  it('start, status, a refused second start, restart, stop', async () => {
    const home = join(tmp.dir, 'life')
    writeConfig(home, { port: 0 })
    const started = await run(['daemon', 'start'], { home })
    assert.equal(started.code, 0, started.stderr)
    assert.match(started.stdout.toString(), /daemon started \(pid \d+\) at http:\/\/127\.0\.0\.1:\d+/)
    try {
      const status = await run(['--json', 'daemon', 'status'], { home })
      assert.equal(status.code, 0, status.stderr)
      const s = JSON.parse(status.stdout.toString())
      assert.equal(s.running, true)
      assert.equal(s.data_dir, home)
      const second = await run(['daemon', 'start'], { home })
      assert.equal(second.code, 1)
      assert.match(second.stderr, /already running on .* \(pid \d+\)/)
      const restarted = await run(['daemon', 'restart'], { home })
      assert.equal(restarted.code, 0, restarted.stderr)
      const s2 = JSON.parse((await run(['--json', 'daemon', 'status'], { home })).stdout.toString())
      assert.notEqual(s2.pid, s.pid)
    } finally {
      const stopped = await run(['daemon', 'stop'], { home })
      assert.equal(stopped.code, 0, stopped.stderr)
    }
    const after = await run(['daemon', 'status'], { home })
    assert.equal(after.code, 1)
    assert.match(after.stdout.toString(), /not running/)
    assert.equal(existsSync(join(home, 'api')), false)
    assert.ok(readFileSync(join(home, 'logs', 'daemon.log'), 'utf8').includes('daemon started'))
  })

  it('cleans up a stale lock and pid file from a killed daemon', async () => {
    const home = join(tmp.dir, 'stale')
    mkdirSync(home, { recursive: true })
    writeFileSync(join(home, 'daemon.lock'), '999999\n')
    writeFileSync(join(home, 'daemon.pid'), '999999\n')
    const d = await startDaemon(home)
    assert.equal((await d.call('/health')).status, 200)
    assert.equal(await d.stop(), 0)
  })

  it('refuses an invalid config value at start, naming the key', async () => {
    const home = join(tmp.dir, 'badconf')
    writeConfig(home, { health_check_interval: -5 })
    const r = await run(['daemon', 'start', '--foreground'], { home })
    assert.equal(r.code, 2)
    assert.match(r.stderr, /invalid config key "health_check_interval"/)
    writeConfig(home, { backends: [{ name: 'nas', type: 'filesystem', path: 'relative/dir' }] })
    const r2 = await run(['daemon', 'start', '--foreground'], { home })
    assert.match(r2.stderr, /invalid config key "backends\[0\]\.path": must be an absolute path/)
    writeConfig(home, { max_body_size: '1GiB' })
    const r3 = await run(['daemon', 'start', '--foreground'], { home })
    assert.equal(r3.code, 2)
    assert.match(r3.stderr, /invalid config key "max_body_size"/)
  })

  it('refuses request bodies over max_body_size with 413 and headers over max_header_size with 431', async () => {
    const home = join(tmp.dir, 'bodylimit')
    writeConfig(home, { max_body_size: '64KiB', max_header_size: '16KiB' })
    const d = await startDaemon(home)
    try {
      // headers past max_header_size: node's 431, before any route runs
      const bigHeader = await d.call('/health', { headers: { 'x-filler': 'x'.repeat(20 * 1024) } })
      assert.equal(bigHeader.status, 431)
      assert.equal((await d.call('/health', { headers: { 'x-filler': 'x'.repeat(8 * 1024) } })).status, 200)
      const over = await d.call('/pins', { method: 'POST', json: { cid: 'x'.repeat(100 * 1024) } })
      assert.equal(over.status, 413)
      assert.equal((await json(over)).error.code, 'ERR_PAYLOAD_TOO_LARGE')
      // under the limit, the same body is read and refused for what it says
      const under = await d.call('/pins', { method: 'POST', json: { cid: 'x'.repeat(60 * 1024) } })
      assert.equal(under.status, 400)
      assert.equal((await json(under)).error.code, 'ERR_INVALID_INPUT')
    } finally {
      await d.stop()
    }
  })
})

describe('daemon API', () => {
  let tmp: ReturnType<typeof tempDir>
  let d: TestDaemon
  let home: string
  let cid: string
  before(async () => {
    tmp = tempDir()
    home = join(tmp.dir, 'api')
    writeConfig(home, { node: FREE_NODE_PORT })
    const file = join(tmp.dir, 'content.bin')
    writeRandomFile(file, 1 * MiB, 'api')
    cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    d = await startDaemon(home)
  })
  after(async () => {
    await d.stop()
    tmp.cleanup()
  })

  it('answers /health, /status, /openapi.json and /metrics', async () => {
    const health = await json(d.call('/health', { auth: false }))
    assert.equal(health.status, 'ok')
    const status = await json(d.call('/status', { auth: false }))
    assert.equal(status.data_dir, home)
    assert.equal(status.pins.pinned, 1)
    const openapi = await json(d.call('/openapi.json', { auth: false }))
    for (const path of [
      '/health',
      '/pins',
      '/pins/{cid}',
      '/backends/start/{name}',
      '/replication/sync',
      '/logs/{name}',
    ]) {
      assert.ok(openapi.paths[path] != null, `openapi documents ${path}`)
    }
    const metrics = await (await d.call('/metrics', { auth: false })).text()
    assert.match(metrics, /ipfs_kit_pins\{status="pinned"\} 1/)
    assert.match(metrics, /ipfs_kit_backend_up\{backend="local",type="local"\} 1/)
  })

  it('refuses every mutating call without the right token (401) and changes nothing', async () => {
    const before = await json(d.call('/pins'))
    const calls: [string, string, unknown][] = [
      ['POST', '/pins', { cid }],
      ['DELETE', `/pins/${cid}`, undefined],
      ['POST', '/backends/stop/local', undefined],
      ['POST', '/backends/start/local', undefined],
      ['POST', '/replication/sync', {}],
      ['PUT', '/config', { health_check_interval: 5 }],
    ]
    for (const [method, path, payload] of calls) {
      for (const headers of [
        {},
        { authorization: 'Bearer wrong-token' },
        { authorization: 'Basic abc' },
      ] as Record<string, string>[]) {
        const res = await d.call(path, { method, json: payload, auth: false, headers })
        assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`)
        const body = await json(res)
        assert.equal(body.error.code, 'ERR_UNAUTHORIZED')
      }
    }
    assert.deepEqual(await json(d.call('/pins')), before)
    const backends = await json(d.call('/backends'))
    assert.equal(backends.backends[0].state, 'running')
    assert.equal((await json(d.call('/config'))).health_check_interval, 30)
  })

  it('answers bad input with a clear 4xx, never 500', async () => {
    const cases: [string, string, RequestInit & { json?: unknown }, number, RegExp][] = [
      ['POST', '/backends/start/nope', {}, 404, /no backend named "nope"/],
      ['GET', '/logs/nope', {}, 404, /no backend named "nope"/],
      ['POST', '/pins', { json: { cid: 'not-a-cid' } }, 400, /invalid CID/],
      ['GET', '/pins/not-a-cid', {}, 400, /invalid CID/],
      [
        'DELETE',
        '/pins/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy',
        {},
        404,
        /is not pinned/,
      ],
      ['POST', '/pins', { body: '{"cid": ', headers: { 'content-type': 'application/json' } }, 400, /JSON/i],
      ['POST', '/pins', { json: { cid, policy: { min_replicas: 0 } } }, 400, /min_replicas/],
      // a name that names no backend: 404, as /backends/ghost would be
      ['POST', '/pins', { json: { cid, policy: { preferred: ['ghost'] } } }, 404, /no backend named "ghost"/],
      // a field the schema does not have is refused, not dropped
      ['POST', '/pins', { json: { cid, colour: 'blue' } }, 400, /colour|additional/],
      ['POST', '/replication/sync', { json: { wait: null } }, 400, /wait/],
      ['PATCH', '/pins', {}, 405, /PATCH is not allowed on \/pins \(allowed: GET, HEAD, POST\)/],
      ['PUT', '/backends/health', {}, 405, /allowed: GET, HEAD\)/],
      ['POST', '/pins', { json: { cid: 'x'.repeat(2 * MiB) } }, 413, /too large/i],
      ['PUT', '/config', { json: { port: 'eighty' } }, 400, /invalid config key "port"/],
      ['PUT', '/config', { json: { no_such_key: 1 } }, 400, /no_such_key/],
      ['GET', '/no/such/route', {}, 404, /no route/],
      ['GET', '/logs/daemon?lines=-3', {}, 400, /lines/],
    ]
    for (const [method, path, init, status, pattern] of cases) {
      const res = await d.call(path, { method, ...init })
      const body = await json(res)
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(body)}`)
      assert.match(body.error.message, pattern, `${method} ${path}`)
      assert.equal(typeof body.error.code, 'string')
    }
  })

  it('refuses a Host header that is not loopback (DNS rebinding)', async () => {
    // fetch() will not send a forged Host header, so speak HTTP directly
    const { request } = await import('node:http')
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${d.url}/health`, { headers: { host: 'evil.example:80' } }, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 403)
  })

  it('pins, lists, shows and unpins through /pins (Pinning Service API shape)', async () => {
    const other = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const added = await d.call('/pins', { method: 'POST', json: { cid: other, name: 'ghost' } })
    assert.equal(added.status, 202)
    const body = await json(added)
    assert.equal(body.requestid, other)
    assert.equal(body.pin.name, 'ghost')
    assert.ok(['queued', 'failed'].includes(body.status))
    await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
    const one = await json(d.call(`/pins/${other}`))
    assert.equal(one.status, 'failed')
    assert.match(one.info.error, /no peers are configured/)
    const list = await json(d.call('/pins?status=pinned'))
    assert.deepEqual(
      list.results.map((r: { pin: { cid: string } }) => r.pin.cid),
      [cid],
    )
    assert.equal((await d.call(`/pins/${other}`, { method: 'DELETE' })).status, 202)
    assert.equal((await d.call(`/pins/${other}`)).status, 404)
  })

  it('streams events over SSE', async () => {
    const res = await d.call('/events', { auth: false })
    const reader = res.body!.getReader()
    await d.call('/pins', { method: 'POST', json: { cid } })
    let text = ''
    const deadline = Date.now() + 10_000
    while (!text.includes('event: pin') && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      text += new TextDecoder().decode(value)
    }
    await reader.cancel()
    assert.match(text, /event: pin\ndata: \{.*"action":"added"/)
  })

  it('serves log lines and applies PUT /config intervals without a restart', async () => {
    const logs = await json(d.call('/logs/daemon?lines=3'))
    assert.equal(logs.lines.length, 3)
    const put = await d.call('/config', { method: 'PUT', json: { health_check_interval: 7 } })
    assert.equal(put.status, 200)
    assert.equal((await json(d.call('/config'))).health_check_interval, 7)
    assert.equal(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).health_check_interval, 7)
  })

  it('writes api-token with mode 0600 and the api file with its URL', () => {
    assert.equal(statSync(join(home, 'api-token')).mode & 0o777, 0o600)
    assert.equal(readFileSync(join(home, 'api'), 'utf8').trim(), d.url)
  })
})

describe('replication across backends', () => {
  const tmp = suiteTempDir()

  it('keeps min 2 verified replicas: repairs after a lost backend and after a corrupt CAR', async () => {
    const home = join(tmp.dir, 'repl')
    const fs1 = join(tmp.dir, 'fs1')
    const fs2 = join(tmp.dir, 'fs2')
    mkdirSync(fs1)
    mkdirSync(fs2)
    writeConfig(home, {
      backends: [
        { name: 'fs1', type: 'filesystem', path: fs1 },
        { name: 'fs2', type: 'filesystem', path: fs2 },
      ],
      replication: { min_replicas: 2, max_replicas: 2, preferred: ['fs1'] },
      node: FREE_NODE_PORT,
    })
    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 3 * MiB, 'repl')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const d = await startDaemon(home)
    try {
      const sync = async (verify = false) => {
        const res = await d.call('/replication/sync', { method: 'POST', json: { wait: true, verify } })
        assert.equal(res.status, 200)
        return (await json(res)).report
      }
      const verifiedOn = async () => {
        const pin = await json(d.call(`/pins/${cid}`))
        return [...pin.info.verified].sort()
      }
      await sync()
      assert.deepEqual(await verifiedOn(), ['fs1', 'local'])
      assert.ok(existsSync(join(fs1, `${cid}.car`)))

      // lose fs1: health turns unhealthy, the reconciler repairs onto fs2
      rmSync(fs1, { recursive: true })
      const health = await json(d.call('/backends/health?probe=true'))
      assert.equal(health.fs1.status, 'unhealthy')
      await sync()
      assert.deepEqual(await verifiedOn(), ['fs2', 'local'])
      const status = await json(d.call('/replication/status'))
      assert.equal(status.totals.ok, 1)

      // corrupt the CAR on fs2: verification finds it, and it is repaired
      const car = join(fs2, `${cid}.car`)
      const original = readFileSync(car)
      const bytes = Buffer.from(original)
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 100) ^ 0xff, bytes.length - 100)
      writeFileSync(car, bytes)
      const report = await sync(true)
      assert.ok(report.verified >= 2)
      const pin = await json(d.call(`/pins/${cid}`))
      const fs2Replica = pin.info.replicas.find((r: { backend: string }) => r.backend === 'fs2')
      assert.equal(fs2Replica.state, 'verified', JSON.stringify(pin.info))
      assert.ok(readFileSync(car).equals(original), 'the corrupt CAR on fs2 was replaced by a good copy')
      const verify = await sync(true)
      assert.equal(verify.failed, 0)
      assert.deepEqual(await verifiedOn(), ['fs2', 'local'])
    } finally {
      await d.stop()
    }
  })

  it('pins and replicas survive a restart and a kill -9, and the database stays intact', async () => {
    const home = join(tmp.dir, 'survive')
    const fs1 = join(tmp.dir, 'sfs1')
    mkdirSync(fs1)
    writeConfig(home, {
      backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
      replication: { min_replicas: 2, max_replicas: 2 },
      node: FREE_NODE_PORT,
    })
    const file = join(tmp.dir, 'survive.bin')
    writeRandomFile(file, 1 * MiB, 'survive')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    // every daemon started here is stopped even when an assertion fails: a live child would keep
    // the test process (and the whole run) waiting forever
    let d = await startDaemon(home)
    try {
      await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(await d.stop(), 0)
      d = await startDaemon(home)
      let pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual([...pin.info.verified].sort(), ['fs1', 'local'])
      d.child.kill('SIGKILL')
      await new Promise((r) => d.child.once('exit', r))
      d = await startDaemon(home)
      pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual([...pin.info.verified].sort(), ['fs1', 'local'])
    } finally {
      await d.stop()
    }
    const db = new Database(join(home, 'state.db'), { readonly: true })
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    db.close()
  })
})

describe('logs', () => {
  it('rotates daemon and backend logs at max_log_size, keeping the last few', async () => {
    const tmp = tempDir()
    try {
      const home = join(tmp.dir, 'logs')
      writeConfig(home, { max_log_size: 2048, log_files_kept: 2, log_level: 'debug' })
      const d = await startDaemon(home)
      for (let i = 0; i < 30; i++) {
        await d.call('/backends/stop/local', { method: 'POST' })
        await d.call('/backends/start/local', { method: 'POST' })
      }
      await d.stop()
      const files = readdirSync(join(home, 'logs')).sort()
      assert.ok(files.includes('local.log'))
      assert.ok(files.includes('local.log.1'), files.join(', '))
      assert.ok(!files.includes('local.log.3'), 'keeps only log_files_kept old files')
    } finally {
      tmp.cleanup()
    }
  })
})

describe('queued pins', () => {
  it('fetches a pin no backend holds from a configured peer over bitswap', async () => {
    const tmp = tempDir()
    const peerHome = join(tmp.dir, 'peer')
    const file = join(tmp.dir, 'remote.bin')
    writeRandomFile(file, 2 * MiB, 'queued')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home: peerHome })).stdout.toString().trim()
    const server = await serveNode(peerHome)
    try {
      const addr = server.addr
      const home = join(tmp.dir, 'daemon')
      writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [addr], fetch_timeout_ms: 5000 } })
      const d = await startDaemon(home)
      try {
        const added = await json(d.call('/pins', { method: 'POST', json: { cid, name: 'remote' } }))
        assert.equal(added.status, 'queued')
        await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
        const pin = await json(d.call(`/pins/${cid}`))
        assert.equal(pin.status, 'pinned', JSON.stringify(pin.info))
        assert.deepEqual(pin.info.verified, ['local'])
        assert.ok(pin.info.size >= 2 * MiB, 'the DAG size is recorded')
      } finally {
        await d.stop()
      }
      const cat = await run(['ipfs', 'cat', cid], { home })
      assert.ok(cat.stdout.equals(readFileSync(file)))
    } finally {
      await server.stop()
      tmp.cleanup()
    }
  })
})

describe('pin index', () => {
  it('is published by the daemon, readable while it writes, and matches the state database', async () => {
    const tmp = tempDir()
    const { parquetReadObjects } = await import('hyparquet')
    const home = join(tmp.dir, 'idx')
    const d = await startDaemon(home)
    try {
      const readIndex = async () => {
        const buf = readFileSync(join(home, 'index', 'pins.parquet'))
        return (await parquetReadObjects({
          file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length),
        })) as {
          cid: string
          backend: string | null
          state: string
        }[]
      }
      assert.deepEqual(await readIndex(), [], 'published at start')
      // a reader polls the index while the daemon republishes it after every change: each read must
      // parse (the file is replaced by an atomic rename, never seen half-written) and, as pins are
      // only added here, no snapshot may have fewer pins than one read before it
      let writing = true
      const seen: number[] = []
      const readFailures: string[] = []
      const reader = (async () => {
        while (writing) {
          try {
            const rows = await readIndex()
            seen.push(new Set(rows.map((r) => r.cid)).size)
          } catch (err) {
            readFailures.push((err as Error).message)
          }
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      const file = join(tmp.dir, 'f.txt')
      for (let i = 0; i < 15; i++) {
        writeFileSync(file, `content ${i}`)
        await run(['ipfs', 'add', '-Q', file], { home })
        await d.call('/pins', {
          method: 'POST',
          json: { cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', name: `n${i}` },
        })
      }
      writing = false
      await reader
      assert.deepEqual(readFailures, [], 'every read during the writes parsed')
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => a - b),
        'pin counts never went backwards',
      )
      assert.ok(
        seen.some((n) => n > 0 && n < 16),
        `the reader saw the index change: ${seen.join(',')}`,
      )
      // the index catches up within about a second of the last change
      const deadline = Date.now() + 10_000
      let rows = await readIndex()
      while (rows.filter((r) => r.backend === 'local').length < 15 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200))
        rows = await readIndex()
      }
      const db = new Database(join(home, 'state.db'), { readonly: true })
      const expected = db
        .prepare(
          'SELECT p.cid, r.backend FROM pins p LEFT JOIN replicas r ON r.cid = p.cid ORDER BY p.cid, r.backend',
        )
        .all() as { cid: string; backend: string | null }[]
      db.close()
      assert.deepEqual(
        rows.map((r) => [r.cid, r.backend]),
        expected.map((r) => [r.cid, r.backend]),
      )
    } finally {
      await d.stop()
      tmp.cleanup()
    }
  })
})
