import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { tempDir } from '../../test/helpers/cli.ts'
import { InvalidInputError } from '../errors.ts'
import { CONFIG_DEFAULTS, loadConfig, parseSize, resolveConfig, validateConfig } from './config.ts'

describe('config', () => {
  it('has the documented defaults', () => {
    const tmp = tempDir()
    try {
      const c = loadConfig(tmp.dir, {}, {})
      assert.equal(c.host, '127.0.0.1')
      assert.equal(c.port, 8887)
      assert.equal(c.log_level, 'info')
      assert.equal(c.health_check_interval, 30)
      assert.equal(c.replication_sync_interval, 300)
      assert.equal(c.max_log_size, 100_000_000)
      assert.equal(c.data_dir, tmp.dir)
      assert.deepEqual(c.node.peers, [])
    } finally {
      tmp.cleanup()
    }
  })

  it('without any config (no file, variable or flag) gives exactly what the schema gives, as a fresh copy', () => {
    // the no-config path skips the schema: its plain defaults must be the schema's, key for key
    assert.deepEqual(validateConfig({}, 'test'), CONFIG_DEFAULTS)
    const tmp = tempDir()
    try {
      const a = loadConfig(tmp.dir, {}, {})
      assert.deepEqual(a, { ...validateConfig({}, 'test'), data_dir: tmp.dir })
      a.node.peers.push('/ip4/127.0.0.1/tcp/1')
      a.replication.min_replicas = 2
      assert.deepEqual(
        loadConfig(tmp.dir, {}, {}).node.peers,
        [],
        'a caller changing its copy changes no other',
      )
      assert.equal(CONFIG_DEFAULTS.replication.min_replicas, 1)
      // any one layer set: validated as before, the rest from the defaults
      writeFileSync(join(tmp.dir, 'config.json'), '{}')
      assert.deepEqual(loadConfig(tmp.dir, {}, {}), { ...CONFIG_DEFAULTS, data_dir: tmp.dir })
      assert.throws(() => loadConfig(tmp.dir, {}, { IPFS_KIT_PORT: '70000' }), /invalid config key "port"/)
    } finally {
      tmp.cleanup()
    }
  })

  it('applies defaults < config.json < IPFS_KIT_* env < flags', () => {
    const tmp = tempDir()
    try {
      writeFileSync(
        join(tmp.dir, 'config.json'),
        JSON.stringify({ port: 9000, host: '127.0.0.2', log_level: 'warn' }),
      )
      const env = { IPFS_KIT_PORT: '9100', IPFS_KIT_LOG_LEVEL: 'debug' }
      const c = loadConfig(tmp.dir, { log_level: 'error' }, env)
      assert.equal(c.host, '127.0.0.2')
      assert.equal(c.port, 9100)
      assert.equal(c.log_level, 'error')
    } finally {
      tmp.cleanup()
    }
  })

  it('refuses bad values naming the key and where it came from', () => {
    const tmp = tempDir()
    try {
      assert.throws(() => loadConfig(tmp.dir, {}, { IPFS_KIT_PORT: 'eighty' }), /invalid config key "port"/)
      assert.throws(() => loadConfig(tmp.dir, { health_check_interval: 0 }, {}), /"health_check_interval"/)
      // a loop of a millisecond would keep the daemon probing; a second is the floor
      assert.throws(
        () => loadConfig(tmp.dir, { health_check_interval: 0.001 }, {}),
        /"health_check_interval"/,
      )
      // a size of no bytes, a size in words, a URL where a host goes
      assert.throws(
        () => loadConfig(tmp.dir, { max_log_size: '0' }, {}),
        /"max_log_size".*less than one byte/,
      )
      assert.throws(() => loadConfig(tmp.dir, { max_log_size: 'lots' }, {}), /"max_log_size"/)
      assert.throws(
        () => loadConfig(tmp.dir, { host: 'http://127.0.0.1:8887' }, {}),
        /"host".*host name or an IP/,
      )
      assert.equal(loadConfig(tmp.dir, { host: '::1' }, {}).host, '::1')
      assert.equal(loadConfig(tmp.dir, { max_log_size: '1.5 KiB' }, {}).max_log_size, 1536)
      writeFileSync(join(tmp.dir, 'config.json'), '{ not json')
      assert.throws(() => loadConfig(tmp.dir, {}, {}), InvalidInputError)
      writeFileSync(
        join(tmp.dir, 'config.json'),
        JSON.stringify({ replication: { min_replicas: 3, max_replicas: 2 } }),
      )
      assert.throws(() => loadConfig(tmp.dir, {}, {}), /max_replicas must be >= min_replicas/)
      writeFileSync(
        join(tmp.dir, 'config.json'),
        JSON.stringify({ backends: [{ name: 'Bad Name!', type: 'filesystem' }] }),
      )
      assert.throws(() => loadConfig(tmp.dir, {}, {}), /"backends\[0\]\.name"/)
    } finally {
      tmp.cleanup()
    }
  })

  it('says which layer each value came from, down to nested keys', () => {
    const tmp = tempDir()
    try {
      writeFileSync(
        join(tmp.dir, 'config.json'),
        JSON.stringify({ port: 9000, log_files_kept: 6, replication: { min_replicas: 2 } }),
      )
      const { config, origins } = resolveConfig(tmp.dir, {
        flags: { health_check_interval: 7 },
        env: { IPFS_KIT_LOG_LEVEL: 'debug', IPFS_KIT_PORT: '9100' },
      })
      assert.equal(config.health_check_interval, 7)
      assert.equal(config.port, 9100)
      assert.deepEqual(
        {
          health_check_interval: origins.health_check_interval,
          port: origins.port,
          log_level: origins.log_level,
          log_files_kept: origins.log_files_kept,
          host: origins.host,
          'replication.min_replicas': origins['replication.min_replicas'],
          'replication.max_replicas': origins['replication.max_replicas'],
          'node.peers': origins['node.peers'],
        },
        {
          health_check_interval: 'flag',
          port: 'env',
          log_level: 'env',
          log_files_kept: 'file',
          host: 'default',
          'replication.min_replicas': 'file',
          'replication.max_replicas': 'default',
          'node.peers': 'default',
        },
      )
      assert.equal(origins.data_dir, undefined, 'the data directory is not a config key')
    } finally {
      tmp.cleanup()
    }
  })

  it('names the layer that set a bad value', () => {
    const tmp = tempDir()
    try {
      assert.throws(
        () => loadConfig(tmp.dir, {}, { IPFS_KIT_PORT: 'eighty' }),
        /"port" \(environment IPFS_KIT_PORT\)/,
      )
      assert.throws(
        () => loadConfig(tmp.dir, { health_check_interval: 0 }, {}),
        /"health_check_interval" \(flag --health-check-interval\)/,
      )
      writeFileSync(join(tmp.dir, 'config.json'), JSON.stringify({ log_files_kept: 0 }))
      assert.throws(() => loadConfig(tmp.dir, {}, {}), /"log_files_kept" \(.*config\.json\)/)
    } finally {
      tmp.cleanup()
    }
  })

  it('parses sizes with units', () => {
    assert.equal(parseSize('100MB'), 100_000_000)
    assert.equal(parseSize('64KiB'), 65_536)
    assert.equal(parseSize('1048576'), 1_048_576)
    assert.throws(() => parseSize('lots'), /invalid size/)
  })
})
