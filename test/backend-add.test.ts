/**
 * `ipfs-kit backend add|remove`: a backend is configured without editing JSON by hand, validated by
 * its type before anything is saved, and a running daemon starts or stops it at once (S3 here is a
 * real versitygw on loopback). With no daemon running, config.json is edited for the next start.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import { startS3Server } from './helpers/s3.ts'

const MiB = 1 << 20

describe('backend add and remove', () => {
  const tmp = suiteTempDir()

  it('on a running daemon: an s3 backend added from the CLI starts at once and takes the pin; removed, it stops counting', async () => {
    const s3 = await startS3Server()
    const home = join(tmp.dir, 'live')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      replication: { min_replicas: 2, max_replicas: 2 },
    })
    const file = join(tmp.dir, 'a.bin')
    writeRandomFile(file, 2 * MiB, 'backend-add')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const d = await startDaemon(home)
    try {
      const add = await run(
        [
          'backend',
          'add',
          'bucket',
          '--type',
          's3',
          '--set',
          `endpoint=${s3.endpoint}`,
          '--set',
          'bucket=pins',
          '--set',
          'create_bucket=true',
          '--set',
          `access_key_id=${s3.accessKey}`,
          '--set',
          `secret_access_key=${s3.secretKey}`,
        ],
        { home },
      )
      assert.equal(add.code, 0, add.stderr)
      assert.match(add.stdout.toString(), /bucket: added, running/)
      assert.ok(!add.stdout.toString().includes(s3.secretKey))
      const list = await run(['backend', 'list'], { home })
      assert.match(list.stdout.toString(), /bucket\s+s3\s+running/)
      const saved = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'))
      assert.equal(saved.backends[0].name, 'bucket')
      assert.equal(saved.backends[0].create_bucket, true, 'a --set value that is JSON is saved as JSON')
      // the reconciler uses it at once: min 2 is met on local + bucket
      await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.deepEqual([...(await json(d.call(`/pins/${cid}`))).info.verified].sort(), ['bucket', 'local'])

      // the same name twice is refused
      const again = await run(
        ['backend', 'add', 'bucket', '--type', 'filesystem', '--set', `path=${tmp.dir}`],
        { home },
      )
      assert.equal(again.code, 1)
      assert.match(again.stderr, /a backend named "bucket" exists/)

      const rm = await run(['backend', 'remove', 'bucket'], { home })
      assert.equal(rm.code, 0, rm.stderr)
      const after = await json(d.call('/backends'))
      assert.deepEqual(
        after.backends.map((b: { name: string }) => b.name),
        ['local'],
      )
      assert.deepEqual(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).backends, [])
      const pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual(pin.info.verified, ['local'])
      assert.equal(pin.info.health, 'under-replicated')
      // the API answers the same: 404 for a backend that is not there
      const gone = await d.call('/backends/bucket', { method: 'DELETE' })
      assert.equal(gone.status, 404)
    } finally {
      await d.stop()
      await s3.close()
    }
  })

  it('validates before saving: unknown type, a bad key, a missing key, "local"', async () => {
    const home = join(tmp.dir, 'bad')
    writeConfig(home, {})
    const cases: [string[], RegExp][] = [
      [['backend', 'add', 'x', '--type', 'nope'], /unknown backend type "nope" \(known: .*kubo.*s3/],
      [
        ['backend', 'add', 'x', '--type', 's3', '--set', 'bucket=Bad_Name'],
        /backends\["x"\]\.bucket.*S3 bucket name/,
      ],
      [['backend', 'add', 'x', '--type', 'filesystem'], /backends\["x"\]\.path/],
      [['backend', 'add', 'x', '--type', 'kubo', '--set', 'timeout_ms=-1'], /timeout_ms/],
      [['backend', 'add', 'local', '--type', 'filesystem', '--set', 'path=/tmp'], /"local"/],
      [['backend', 'add', 'x', '--type', 'filesystem', '--set', 'novalue'], /expected KEY=VALUE/],
      [['backend', 'remove', 'nothere'], /no backend named "nothere"/],
    ]
    for (const [args, message] of cases) {
      const r = await run(args, { home })
      assert.notEqual(r.code, 0, args.join(' '))
      assert.match(r.stderr, message, args.join(' '))
    }
    assert.deepEqual(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')), {}, 'nothing was saved')
  })

  it('with no daemon running: edits config.json for the next start', async () => {
    const home = join(tmp.dir, 'offline')
    const nas = join(tmp.dir, 'nas')
    mkdirSync(nas)
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
    const add = await run(['backend', 'add', 'nas', '--type', 'filesystem', '--set', `path=${nas}`], { home })
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stdout.toString(), /added to config.json/)
    const d = await startDaemon(home)
    try {
      const names = (await json(d.call('/backends'))).backends.map(
        (b: { name: string; state: string }) => `${b.name}:${b.state}`,
      )
      assert.deepEqual(names, ['local:running', 'nas:running'])
    } finally {
      await d.stop()
    }
    const rm = await run(['backend', 'remove', 'nas'], { home })
    assert.equal(rm.code, 0, rm.stderr)
    assert.deepEqual(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).backends, [])
  })
})
