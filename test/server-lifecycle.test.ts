import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
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
    assert.equal(readFileSync(join(home, 'server.pid'), 'utf8').split('\n')[0], String(pid))

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

  test('stop signals only a proven server: a stale pid file naming a live process is left alone; restart after kill -9 works', async () => {
    const home = join(tmp.dir, 'stale')
    mkdirSync(home, { recursive: true })
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      // what a killed server leaves: its pid (now someone else's), a nonce, and its URL
      writeFileSync(join(home, 'server.pid'), `${sleeper.pid}\n${'ab'.repeat(16)}\n`)
      writeFileSync(join(home, 'server-api'), 'http://127.0.0.1:9\n')
      const stop = await run(['server', 'stop'], { home })
      assert.equal(stop.code, 1)
      assert.match(stop.stderr, /no server is running/)
      const status = await run(['server', 'status'], { home })
      assert.equal(status.code, 1)
      assert.equal(
        sleeper.exitCode == null && sleeper.signalCode == null,
        true,
        'the sleeper was not signalled',
      )

      // a server killed with -9 leaves its files; the kernel dropped its lock, so a start works at once
      const first = await startServer(home)
      first.child.kill('SIGKILL')
      await once(first.child, 'exit')
      const second = await startServer(home)
      try {
        const health = (await (await second.call('/api/health')).json()) as { pid: number; instance: string }
        assert.equal(health.pid, second.child.pid)
        assert.equal(readFileSync(join(home, 'server.pid'), 'utf8'), `${health.pid}\n${health.instance}\n`)
        const busy = await run(['server', 'start', '--foreground', '--port', '0'], { home })
        assert.equal(busy.code, 1)
        assert.match(
          busy.stderr,
          /a server is already running on .* \(pid \d+\): stop it with `ipfs-kit server stop`/,
        )
        const stopped = await run(['server', 'stop', '--json'], { home })
        assert.equal(stopped.code, 0, stopped.stderr)
        assert.equal(JSON.parse(stopped.stdout.toString()).pid, second.child.pid)
      } finally {
        await second.stop()
      }
    } finally {
      sleeper.kill('SIGKILL')
    }
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
