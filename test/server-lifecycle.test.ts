import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { startDaemon } from './helpers/daemon.ts'
import { startServer } from './helpers/server.ts'

describe('server start, status, stop', () => {
  const tmp = suiteTempDir()

  test('start detaches, status reports it, stop removes its files; its log is logs/server.log', async () => {
    const home = join(tmp.dir, 'detach')
    const started = await run(['server', 'start', '--port', '0', '--json'], { home })
    assert.equal(started.code, 0, started.stderr)
    const { pid, url } = JSON.parse(started.stdout.toString()) as { pid: number; url: string }
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(readFileSync(join(home, 'server.pid'), 'utf8').trim(), String(pid))

    const again = await run(['server', 'start', '--port', '0'], { home })
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already running/)

    const status = await run(['server', 'status'], { home })
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout.toString(), new RegExp(`running \\(pid ${pid}\\) at ${url}`))
    assert.match(status.stdout.toString(), /daemon: not running .*ipfs-kit daemon start/)

    const stopped = await run(['server', 'stop'], { home })
    assert.equal(stopped.code, 0, stopped.stderr)
    assert.equal(existsSync(join(home, 'server-api')), false)
    assert.equal(existsSync(join(home, 'server.pid')), false)
    assert.match(readFileSync(join(home, 'logs', 'server.log'), 'utf8'), /server listening/)

    const after = await run(['server', 'status'], { home })
    assert.equal(after.code, 1)
    assert.match(after.stdout.toString(), /not running/)
  })

  test('a second server on a busy port fails with one clear line', async () => {
    const home = join(tmp.dir, 'busy')
    const first = await startServer(home)
    try {
      const port = new URL(first.url).port
      const second = await run(
        ['--data-dir', join(tmp.dir, 'busy2'), 'server', 'start', '--foreground', '--port', port],
        {
          home,
        },
      )
      assert.equal(second.code, 1)
      assert.match(second.stderr, new RegExp(`port ${port} on 127.0.0.1 is in use`))
    } finally {
      assert.equal(await first.stop(), 0)
    }
  })

  test('/api/health: degraded without the daemon, ok once a daemon starts later (found through <data>/api)', async () => {
    const home = join(tmp.dir, 'health')
    const server = await startServer(home)
    try {
      const down = (await (await server.call('/api/health')).json()) as {
        status: string
        daemon: { available: boolean; message: string }
      }
      assert.equal(down.status, 'degraded')
      assert.equal(down.daemon.available, false)
      assert.match(down.daemon.message, /ipfs-kit daemon start/)
      const daemon = await startDaemon(home)
      try {
        const up = (await (await server.call('/api/health')).json()) as {
          status: string
          daemon: { available: boolean; url: string }
        }
        assert.equal(up.status, 'ok')
        assert.equal(up.daemon.available, true)
        assert.equal(up.daemon.url, daemon.url)
      } finally {
        await daemon.stop()
      }
    } finally {
      assert.equal(await server.stop(), 0)
    }
  })
})
