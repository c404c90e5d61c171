import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon } from './helpers/daemon.ts'

describe('500 answers', () => {
  const tmp = suiteTempDir()

  it('say only "internal error" and a request id; the daemon log has the details under that id', async () => {
    const home = join(tmp.dir, 'internal')
    const d = await startDaemon(home)
    try {
      // make the daemon's own write of config.json fail inside: its temp file's name is taken by a directory
      const { pid } = await json(d.call('/health'))
      const blocker = join(home, `config.json.tmp-${pid}`)
      mkdirSync(blocker)
      const res = await d.call('/config', { method: 'PUT', json: { health_check_interval: 9 } })
      rmSync(blocker, { recursive: true })
      assert.equal(res.status, 500)
      const body = await json(res)
      assert.equal(body.error.code, 'ERR_INTERNAL')
      assert.match(body.error.request_id, /^[0-9a-f]{16}$/)
      assert.equal(
        body.error.message,
        `internal error: the daemon log has the details under request id ${body.error.request_id}`,
      )
      assert.ok(!JSON.stringify(body).includes(home), 'no path of the data directory reaches the client')
      assert.ok(!/EISDIR/.test(JSON.stringify(body)), 'no system error reaches the client')

      // the log is written asynchronously: give it a moment to land
      const logLines = () =>
        readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
          .split('\n')
          .filter((l) => l.includes(body.error.request_id))
      for (let i = 0; i < 100 && logLines().length === 0; i++) await new Promise((r) => setTimeout(r, 50))
      const logged = logLines()
      assert.equal(logged.length, 1, 'one log line carries the request id')
      const entry = JSON.parse(logged[0]!)
      assert.equal(entry.msg, 'internal error')
      assert.equal(entry.url, '/config')
      assert.match(entry.err.message, /EISDIR/)
      assert.ok(entry.err.message.includes(blocker), 'the log keeps the path')

      // 4xx answers still say what to fix
      const bad = await json(d.call('/config', { method: 'PUT', json: { port: 'eighty' } }))
      assert.match(bad.error.message, /invalid config key "port"/)
      assert.equal(bad.error.request_id, undefined)
    } finally {
      await d.stop()
    }
  })
})
