import assert from 'node:assert/strict'
import { request } from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { type Loose, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const OFFLINE_NODE = { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 5000 }

async function addText(home: string, text: string): Promise<string> {
  const r = await run(['ipfs', 'add', '-Q', '--pin=false'], { home, input: text })
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.toString().trim()
}

/** The events of a Server-Sent Events response, one JSON value each. */
async function* sseEvents(res: Response): AsyncGenerator<Loose> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      buffer = buffer.slice(end + 2)
      if (data !== '') yield JSON.parse(data)
    }
  }
}

/** The next event `match` accepts. */
async function nextEvent(events: AsyncGenerator<Loose>, match: (e: Loose) => boolean): Promise<Loose> {
  for (;;) {
    const { value, done } = await events.next()
    if (done) throw new Error('the event stream ended without the expected event')
    if (match(value)) return value
  }
}

/** A GET with any Host header (fetch does not let a caller set Host). */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers: { host } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('REST API with the daemon down', () => {
  const tmp = suiteTempDir()
  let home: string
  let server: TestServer

  before(async () => {
    home = join(tmp.dir, 'down')
    writeConfig(home, { node: OFFLINE_NODE })
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
  })

  test('the server still serves content; management answers 503 saying how to start the daemon', async () => {
    const cid = await addText(home, 'served without a daemon\n')
    const content = await server.call(`/ipfs/${cid}`)
    assert.equal(content.status, 200)
    assert.equal(await content.text(), 'served without a daemon\n')
    for (const [method, path] of [
      ['GET', '/api/pins'],
      ['POST', '/api/pins'],
      ['GET', '/api/backends'],
      ['GET', '/api/events'],
      ['GET', '/api/dashboard/pins'],
    ] as const) {
      const res = await server.call(path, {
        method,
        auth: true,
        json: method === 'POST' ? { cid } : undefined,
      })
      assert.equal(res.status, 503, `${method} ${path}`)
      const body = (await res.json()) as Loose
      assert.equal(body.error.code, 'ERR_DAEMON_UNAVAILABLE')
      assert.match(body.error.message, /ipfs-kit daemon start/)
    }
    const summary = (await (await server.call('/api/dashboard/summary')).json()) as Loose
    assert.equal(summary.daemon.available, false)
    assert.match(summary.daemon.message, /ipfs-kit daemon start/)
  })
})

describe('REST API with the daemon up', () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon
  let server: TestServer

  before(async () => {
    home = join(tmp.dir, 'up')
    writeConfig(home, {
      node: OFFLINE_NODE,
      server: { max_body_size: 4096, max_upload_size: 10_000, max_sse_clients: 2 },
    })
    daemon = await startDaemon(home)
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
    await daemon?.stop()
  })

  test('pins: add needs the token, is placed by the pin index, then lists, shows and removes', async () => {
    const cid = await addText(home, 'pin me through the server\n')
    const refused = await server.call('/api/pins', { method: 'POST', json: { cid } })
    assert.equal(refused.status, 401)
    assert.equal(((await refused.json()) as Loose).error.code, 'ERR_UNAUTHORIZED')

    const added = await server.call('/api/pins', {
      method: 'POST',
      auth: true,
      json: { cid, name: 'from-server' },
    })
    assert.equal(added.status, 202)
    const body = (await added.json()) as Loose
    assert.equal(body.pin.pin.cid, cid)
    assert.ok(body.placement != null || body.placement_note != null, 'placement or a note saying why not')

    const list = (await (await server.call(`/api/pins?cid=${cid}`)).json()) as Loose
    assert.equal(list.count, 1)
    assert.equal(list.results[0].pin.name, 'from-server')
    const one = await server.call(`/api/pins/${cid}`)
    assert.equal(one.status, 200)
    const page = (await (await server.call('/api/dashboard/pins?search=FROM-SERV')).json()) as Loose
    assert.equal(page.total, 1)

    assert.equal((await server.call(`/api/pins/${cid}`, { method: 'DELETE' })).status, 401)
    assert.equal((await server.call(`/api/pins/${cid}`, { method: 'DELETE', auth: true })).status, 202)
    const gone = (await (await server.call(`/api/pins?cid=${cid}`)).json()) as Loose
    assert.equal(gone.count, 0)
  })

  test('a bad CID is a 400 and nothing is pinned', async () => {
    const res = await server.call('/api/pins', { method: 'POST', auth: true, json: { cid: 'nope' } })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as Loose).error.code, 'ERR_INVALID_CID')
  })

  test('backends, their health and the dashboard summary come from the daemon', async () => {
    const backends = (await (await server.call('/api/backends')).json()) as Loose
    assert.ok(backends.backends.some((b: Loose) => b.name === 'local'))
    assert.equal((await server.call('/api/backends/health')).status, 200)
    const summary = (await (await server.call('/api/dashboard/summary')).json()) as Loose
    assert.equal(summary.health.status, 'ok')
    assert.equal(summary.daemon.available, true)
    assert.equal(typeof summary.daemon.status.pid, 'number')
    assert.ok(Array.isArray(summary.backends.backends))
    assert.equal((await server.call('/api/backends/nope/stop', { method: 'POST', auth: true })).status, 404)
  })

  test('/api/events relays the daemon events: a pin made through the API shows up on the stream', async () => {
    const cid = await addText(home, 'an event for this one\n')
    const controller = new AbortController()
    const stream = await server.call('/api/events', { signal: controller.signal })
    assert.equal(stream.status, 200)
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/)
    const events = sseEvents(stream)
    await nextEvent(events, (e) => e.type === 'daemon' && e.status === 'up')
    await server.call('/api/pins', { method: 'POST', auth: true, json: { cid } })
    const event = await nextEvent(events, (e) => e.type === 'pin' && e.cid === cid)
    assert.equal(event.action, 'added')
    controller.abort()
    await events.return(undefined).catch(() => {})
  })

  test('/api/events streams are capped by server.max_sse_clients (503 past it); a closed one frees its slot', async () => {
    const open = async () => {
      const res = await server.call('/api/events')
      // cancelling the body closes the connection: the server sees the client go
      return { res, close: () => res.body?.cancel() }
    }
    const a = await open()
    const b = await open()
    assert.equal(a.res.status, 200)
    assert.equal(b.res.status, 200)
    const c = await open()
    assert.equal(c.res.status, 503)
    const body = (await c.res.json()) as Loose
    assert.equal(body.error.code, 'ERR_TOO_MANY_CLIENTS')
    assert.match(body.error.message, /server\.max_sse_clients = 2/)
    await a.close()
    let d = await open()
    for (let i = 0; d.res.status !== 200 && i < 100; i++) {
      await d.res.body?.cancel()
      await new Promise((r) => setTimeout(r, 50))
      d = await open()
    }
    assert.equal(d.res.status, 200, 'a slot is free again once a stream closes')
    await b.close()
    await d.close()
  })

  test('DNS rebinding: a foreign Host or Origin is refused on /api; the gateway still serves', async () => {
    const foreignHost = await getWithHost(server.url, '/api/health', 'attacker.example')
    assert.equal(foreignHost.status, 403)
    assert.equal(JSON.parse(foreignHost.body).error.code, 'ERR_FORBIDDEN')
    const foreignPort = await getWithHost(server.url, '/api/health', '127.0.0.1:1')
    assert.equal(foreignPort.status, 403)
    const dashboard = await getWithHost(server.url, '/', 'attacker.example')
    assert.equal(dashboard.status, 403)
    const foreignOrigin = await server.call('/api/pins', { headers: { origin: 'http://attacker.example' } })
    assert.equal(foreignOrigin.status, 403)
    const sameOrigin = await server.call('/api/health', { headers: { origin: server.url } })
    assert.equal(sameOrigin.status, 200)
    const cid = await addText(home, 'public bytes\n')
    const gateway = await getWithHost(server.url, `/ipfs/${cid}`, 'gateway.example')
    assert.equal(gateway.status, 200)
    assert.equal(gateway.body, 'public bytes\n')
  })

  test('a body larger than server.max_body_size is refused with 413 before anything happens', async () => {
    const res = await server.call('/api/pins', {
      method: 'POST',
      auth: true,
      json: { cid: 'bafkqaaa', name: 'x'.repeat(8000) },
    })
    assert.equal(res.status, 413)
    assert.equal(((await res.json()) as Loose).error.code, 'ERR_PAYLOAD_TOO_LARGE')
  })

  test('/api/content: an upload needs the token, is stored and pinned, and is bounded by server.max_upload_size', async () => {
    const body = new TextEncoder().encode('uploaded over the API\n')
    const headers = { 'content-type': 'application/octet-stream' }
    const anonymous = await server.call('/api/content?name=a.txt', { method: 'POST', headers, body })
    assert.equal(anonymous.status, 401)
    const created = await server.call('/api/content?name=a.txt', {
      method: 'POST',
      headers,
      body,
      auth: true,
    })
    assert.equal(created.status, 201)
    const { cid } = (await created.json()) as { cid: string }
    assert.equal(await (await server.call(`/ipfs/${cid}`)).text(), 'uploaded over the API\n')
    const listed = (await (await server.call(`/api/content/ls?path=${cid}`)).json()) as Loose
    assert.equal(listed.entries[0].cid, cid)
    const pins = (await (await server.call(`/api/pins?cid=${cid}`)).json()) as Loose
    assert.equal(pins.count, 1)
    const tooBig = await server.call('/api/content?name=big.bin', {
      method: 'POST',
      headers,
      body: new Uint8Array(20_000),
      auth: true,
    })
    assert.equal(tooBig.status, 413)
    assert.match(((await tooBig.json()) as Loose).error.message, /server.max_upload_size/)
  })

  test('/api/openapi.json documents the API and the gateway from the route schemas', async () => {
    const doc = (await (await server.call('/api/openapi.json')).json()) as Loose
    for (const path of [
      '/api/health',
      '/api/pins',
      '/api/pins/{cid}',
      '/api/backends',
      '/api/events',
      '/ipfs/{*}',
    ]) {
      assert.ok(doc.paths[path] != null, `${path} documented`)
    }
  })
})
