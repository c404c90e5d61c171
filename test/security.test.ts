import assert from 'node:assert/strict'
import { chmodSync, readFileSync, statSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { type DaemonProcess, spawnDaemon, writeDaemonConfig } from '../scripts/harness.ts'
import { pidAlive } from '../src/fs-utils.ts'
import { checkBearer } from '../src/http/auth.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { writeConfig } from './helpers/daemon.ts'
import { startServer } from './helpers/server.ts'

/** GET with a chosen Host header (fetch does not let a caller set it). */
function withHost(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers: { host } }, (res) => {
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

const mode = (path: string) => statSync(path).mode & 0o777

describe('security: the bearer token', () => {
  it('accepts only the exact token, whatever the length or shape of a wrong one', () => {
    const token = 'a'.repeat(64)
    checkBearer(`Bearer ${token}`, token)
    checkBearer(`bearer ${token}`, token)
    for (const header of [
      undefined,
      '',
      'Bearer',
      `Bearer ${token.slice(1)}`,
      `Bearer ${token}b`,
      `Bearer ${'a'.repeat(100_000)}`,
      `Bearer ${'b'.repeat(64)}`,
      `Basic ${token}`,
      `Bearer ${token} extra`,
    ]) {
      assert.throws(
        () => checkBearer(header, token),
        (err: Error & { code?: string }) => err.code === 'ERR_UNAUTHORIZED',
        `refused: ${header?.slice(0, 40)}`,
      )
    }
  })
})

describe('security: the data directory and the daemon', () => {
  const tmp = suiteTempDir()
  let daemon: DaemonProcess | undefined

  it('makes the token 0600 and the data directory 0700, and fixes them (saying so) when they are opened up', async () => {
    const home = join(tmp.dir, 'data')
    // trace: the most the daemon ever logs, so the secret check below sees every line
    writeDaemonConfig(home, { log_level: 'trace' })
    daemon = await spawnDaemon(home)
    assert.equal(mode(join(home, 'api-token')), 0o600)
    assert.equal(mode(home), 0o700)
    assert.equal(await daemon.stop(), 0)

    chmodSync(home, 0o755)
    chmodSync(join(home, 'api-token'), 0o644)
    daemon = await spawnDaemon(home)
    assert.equal(mode(join(home, 'api-token')), 0o600, 'the token is private again')
    assert.equal(mode(home), 0o700, 'the data directory is private again')
  })

  it('never shows the token: not in logs, errors, GET /config, /status or /metrics', async () => {
    const d = daemon!
    const bodies: string[] = []
    const keep = async (res: Promise<Response>) => {
      const r = await res
      bodies.push(`${[...r.headers].join(' ')}\n${await r.text()}`)
      return r
    }
    // a wrong token, no token, the right one, and errors of every kind
    assert.equal(
      (
        await keep(
          d.call('/pins', {
            method: 'POST',
            json: { cid: 'x' },
            headers: { authorization: 'Bearer nope' },
            auth: false,
          }),
        )
      ).status,
      401,
    )
    assert.equal(
      (await keep(d.call('/replication/sync', { method: 'POST', json: {}, auth: false }))).status,
      401,
    )
    assert.equal((await keep(d.call('/pins', { method: 'POST', json: { cid: 'not-a-cid' } }))).status, 400)
    assert.equal((await keep(d.call('/pins/QmNotThere', { method: 'DELETE' }))).status, 400)
    assert.equal((await keep(d.call('/nowhere'))).status, 404)
    assert.equal((await keep(d.call('/config', { method: 'PUT', json: { port: 'x' } }))).status, 400)
    const foreign = await withHost(d.url, '/health', 'evil.example:80')
    bodies.push(foreign.body)
    assert.equal(foreign.status, 403, 'a foreign Host is refused (DNS rebinding)')
    // a hostile page's cross-site request carries its Origin: refused before anything happens
    const pinsBefore = await (await d.call('/pins')).text()
    const cross = await keep(
      d.call('/pins', {
        method: 'POST',
        json: { cid: 'bafkqaaa' },
        headers: { origin: 'http://evil.example' },
      }),
    )
    assert.equal(cross.status, 403, 'a foreign Origin is refused, even with the token')
    assert.equal(
      (
        (await (await d.call('/health', { headers: { origin: 'null' } })).json()) as {
          error: { code: string }
        }
      ).error.code,
      'ERR_FORBIDDEN',
    )
    assert.equal(await (await d.call('/pins')).text(), pinsBefore, 'nothing was pinned')
    assert.equal(
      (await keep(d.call('/health', { headers: { origin: d.url } }))).status,
      200,
      'its own origin passes',
    )
    for (const path of [
      '/config',
      '/status',
      '/metrics',
      '/health',
      '/backends',
      '/openapi.json',
      '/logs/daemon?lines=1000',
    ]) {
      assert.equal((await keep(d.call(path))).status, 200, path)
    }
    assert.equal(await d.stop(), 0)
    const log = readFileSync(join(d.home, 'logs', 'daemon.log'), 'utf8')
    // (the start-up permission fixes of the test above, said in the log)
    assert.match(log, /api-token was mode 0644, readable by others: set to 0600/)
    assert.match(log, /was mode 0755, readable by others: set to 0700/)
    for (const [where, text] of [
      ['logs/daemon.log', log],
      ['the daemon stderr', d.stderr()],
      ...bodies.map((b, i) => [`response ${i}`, b] as const),
    ]) {
      assert.ok(!text.includes(d.token), `the token appears in ${where}`)
    }
  })

  it('bound to 0.0.0.0, every route needs the token', async () => {
    const home = join(tmp.dir, 'public')
    writeDaemonConfig(home)
    const d = await spawnDaemon(home, { args: ['--host', '0.0.0.0'] })
    try {
      assert.match(d.url, /^http:\/\/0\.0\.0\.0:\d+$/)
      for (const path of [
        '/health',
        '/status',
        '/pins',
        '/config',
        '/metrics',
        '/openapi.json',
        '/backends',
        '/events',
      ]) {
        const res = await d.call(path, { auth: false })
        assert.equal(res.status, 401, `${path} without the token`)
        await res.body?.cancel()
      }
      for (const path of ['/health', '/status', '/pins', '/config', '/metrics']) {
        assert.equal((await d.call(path)).status, 200, `${path} with the token`)
      }
    } finally {
      assert.equal(await d.stop(), 0)
    }
  })
})

describe('security: the server bound to a public address', () => {
  const tmp = suiteTempDir()

  it('every route needs the token, the gateway too unless server.public_gateway opens it; status and stop still work', async () => {
    for (const publicGateway of [false, true]) {
      const home = join(tmp.dir, `server-${publicGateway}`)
      writeConfig(home, { server: { public_gateway: publicGateway } })
      const cid = (
        await run(['ipfs', 'add', '-Q', '--cid-version', '1'], { home, input: 'public bytes\n' })
      ).stdout
        .toString()
        .trim()
      const server = await startServer(home, ['--host', '0.0.0.0'])
      try {
        assert.match(server.url, /^http:\/\/0\.0\.0\.0:\d+$/)
        for (const path of ['/', '/api/health', '/api/pins', '/api/openapi.json', '/api/vfs/ls?path=/']) {
          const res = await server.call(path)
          assert.equal(res.status, 401, `${path} without the token`)
          await res.body?.cancel()
        }
        // (no daemon runs here: /api/pins would be a 503 with the token)
        for (const path of ['/', '/api/health', '/api/openapi.json', '/api/vfs/ls?path=/']) {
          const res = await server.call(path, { auth: true })
          assert.equal(res.status, 200, `${path} with the token`)
          await res.body?.cancel()
        }
        const mcp = await server.call('/mcp', {
          method: 'POST',
          json: { jsonrpc: '2.0', id: 1, method: 'ping' },
        })
        assert.equal(mcp.status, 401, '/mcp without the token')
        const gateway = await server.call(`/ipfs/${cid}`)
        if (publicGateway) {
          assert.equal(gateway.status, 200, 'public_gateway: the gateway serves without the token')
          assert.equal(await gateway.text(), 'public bytes\n')
        } else {
          assert.equal(gateway.status, 401, 'the gateway needs the token by default')
          await gateway.body?.cancel()
          const withToken = await server.call(`/ipfs/${cid}`, { auth: true })
          assert.equal(await withToken.text(), 'public bytes\n')
        }
        // the CLI proves the server through its API with the token it can read
        const status = await run(['server', 'status'], { home })
        assert.equal(status.code, 0, status.stderr.toString())
        assert.match(status.stdout.toString(), /server: running/)
        const stop = await run(['server', 'stop'], { home })
        assert.equal(stop.code, 0, stop.stderr.toString())
        // it answers once the process has ended, not only its lock (a zombie counts as ended)
        assert.equal(pidAlive(server.child.pid!), false, '`server stop` returned while the server ran')
        assert.equal(await server.exited(), 0, '`server stop` returns once the server has exited')
      } finally {
        await server.stop()
      }
    }
  })
})
