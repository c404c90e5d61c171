import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'

describe('one effective config: defaults < config.json < env < start-up flags', () => {
  const tmp = suiteTempDir()

  it('a reload after `config set` keeps the start-up flags, and GET /config and `config show --origin` name each layer', async () => {
    const home = join(tmp.dir, 'layers')
    writeConfig(home, { port: 8887 })
    const d = await startDaemon(home, ['--health-check-interval', '7'], { IPFS_KIT_LOG_LEVEL: 'debug' })
    try {
      const port = Number(new URL(d.url).port)
      const set = await run(['config', 'set', 'log_files_kept', '6'], { home })
      assert.equal(set.code, 0, set.stderr)
      // log rotation is fixed when a log opens: the daemon says so instead of claiming it applied it
      assert.match(set.stdout.toString(), /saved; restart the daemon to apply: log_files_kept/)
      const interval = await run(['config', 'set', 'replication_sync_interval', '900'], { home })
      assert.match(interval.stdout.toString(), /saved and applied/)

      const config = await json(d.call('/config'))
      assert.equal(config.health_check_interval, 7, 'the start-up flag survives the reload')
      assert.equal(config.replication_sync_interval, 900)
      assert.equal(config.log_files_kept, 5, 'the value in use until the restart')
      assert.equal(config.port, port, 'the port shown is the one in use, not config.json')
      const view = await json(d.call('/config?origin=true'))
      assert.deepEqual(
        [
          view.origins.health_check_interval,
          view.origins.replication_sync_interval,
          view.origins.log_level,
          view.origins.port,
          view.origins.max_log_size,
        ],
        ['flag', 'file', 'env', 'flag', 'default'],
      )
      assert.equal(view.config.log_level, 'debug')
      assert.deepEqual(view.pending_restart, ['log_files_kept'])

      // the CLI shows the daemon's effective config, git-style
      const shown = await run(['config', 'show', '--origin'], { home })
      assert.equal(shown.code, 0, shown.stderr)
      const lines = shown.stdout.toString().trim().split('\n')
      assert.ok(lines.includes('flag:--health-check-interval\thealth_check_interval=7'), lines.join('\n'))
      assert.ok(
        lines.includes(`file:${join(home, 'config.json')}\treplication_sync_interval=900`),
        lines.join('\n'),
      )
      assert.ok(lines.includes('env:IPFS_KIT_LOG_LEVEL\tlog_level="debug"'), lines.join('\n'))
      assert.ok(lines.includes(`flag:--port\tport=${port}`), lines.join('\n'))
      assert.ok(lines.includes('default\treplication.min_replicas=1'), lines.join('\n'))
      const got = await run(['config', 'get', 'port'], { home })
      assert.equal(got.stdout.toString().trim(), String(port))

      // a key a flag sets is saved to config.json but the daemon says the flag still wins
      const overridden = await run(['config', 'set', 'health_check_interval', '60'], { home })
      assert.equal(overridden.code, 0, overridden.stderr)
      assert.match(
        overridden.stdout.toString(),
        /keeps the value .* start-up flags set: health_check_interval/,
      )
      assert.equal((await json(d.call('/config'))).health_check_interval, 7)
      assert.equal(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).health_check_interval, 60)

      // a key that needs a restart keeps the value in use, and is listed as pending
      const put = await json(d.call('/config', { method: 'PUT', json: { host: '127.0.0.2' } }))
      assert.deepEqual(put.restart_needed, ['host'])
      const after = await json(d.call('/config?origin=true'))
      assert.equal(after.config.host, '127.0.0.1')
      assert.deepEqual(after.pending_restart, ['host', 'log_files_kept'])
    } finally {
      await d.stop()
    }
    // with no daemon, the CLI resolves the layers itself
    const local = await run(['config', 'show', '--origin'], { home })
    assert.ok(local.stdout.toString().includes(`file:${join(home, 'config.json')}\thealth_check_interval=60`))
  })
})
