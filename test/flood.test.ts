import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { suiteTempDir } from './helpers/cli.ts'
import { startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const FLOOD = 600
const CAP = 64

/** Opens `n` TCP connections that never send a byte, and keeps them. */
async function flood(url: string, n: number): Promise<Socket[]> {
  const { hostname, port } = new URL(url)
  const sockets: Socket[] = []
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = connect(Number(port), hostname, () => resolve())
          s.on('error', () => resolve())
          s.on('close', () => resolve())
          sockets.push(s)
        }),
    ),
  )
  return sockets
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length

describe(`a flood of ${FLOOD} idle connections against max_connections ${CAP}`, () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon
  let server: TestServer

  before(async () => {
    home = join(tmp.dir, 'home')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 1000 },
      max_connections: CAP,
      server: { max_connections: CAP },
    })
    daemon = await startDaemon(home)
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
    await daemon?.stop()
  })

  for (const who of ['daemon', 'server'] as const) {
    it(`the ${who} holds at most the cap in descriptors, and serves again as soon as the flood ends`, async () => {
      const target = who === 'daemon' ? daemon : server
      const pid = target.child.pid!
      const before = fds(pid)
      const sockets = await flood(target.url, FLOOD)
      await new Promise((r) => setTimeout(r, 500))
      const during = fds(pid)
      assert.ok(
        during - before <= CAP + 8,
        `${who}: ${before} descriptors before, ${during} during a flood of ${FLOOD}`,
      )
      assert.equal(target.child.exitCode, null, `the ${who} is still running`)
      for (const s of sockets) s.destroy()
      await new Promise((r) => setTimeout(r, 200))
      const health = await target.call(who === 'daemon' ? '/health' : '/api/health')
      assert.equal(health.status, 200)
      if (who === 'daemon') {
        const st = await daemon.call('/status')
        assert.equal(st.status, 200)
      } else {
        const put = await server.call('/api/vfs/write?path=/after-flood.txt', {
          method: 'POST',
          auth: true,
          headers: { 'content-type': 'application/octet-stream' },
          body: 'written after the flood',
        })
        assert.equal(put.status, 201, await put.text())
      }
    })
  }
})
