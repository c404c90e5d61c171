/**
 * Replication across backend types, each a real program on loopback: the embedded node (`local`), a
 * managed Kubo 0.41 (`kubo1`), versitygw as S3 (`bucket1`) and a directory of CARs as the spare
 * (`spare`). A pin with min 3 is verified on local, kubo1 and bucket1; Kubo is killed with SIGKILL:
 * health says so within one health interval, the pin is repaired onto the spare, and once Kubo is
 * started again its replica counts again.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { until, writeRandomFile } from './helpers/fixtures.ts'
import { KUBO_BIN } from './helpers/kubo.ts'
import { startS3Server } from './helpers/s3.ts'

const MiB = 1 << 20

describe('replication across local, kubo and s3', () => {
  const tmp = suiteTempDir()

  it('min 3 verified on three types; Kubo killed: seen unhealthy, repaired onto the spare; Kubo back: counts again', async () => {
    const s3 = await startS3Server()
    const home = join(tmp.dir, 'home')
    const spare = join(tmp.dir, 'spare')
    mkdirSync(spare)
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      health_check_interval: 1,
      replication: { min_replicas: 3, max_replicas: 4, preferred: ['kubo1', 'bucket1'] },
      backends: [
        { name: 'kubo1', type: 'kubo', bin: KUBO_BIN },
        {
          name: 'bucket1',
          type: 's3',
          endpoint: s3.endpoint,
          bucket: 'pins',
          create_bucket: true,
          access_key_id: s3.accessKey,
          secret_access_key: s3.secretKey,
        },
        { name: 'spare', type: 'filesystem', path: spare },
      ],
    })
    const file = join(tmp.dir, 'data.bin')
    writeRandomFile(file, 5 * MiB, 'replication-types')
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const d = await startDaemon(home)
    try {
      const verified = async (): Promise<string[]> =>
        [...(await json(d.call(`/pins/${cid}`))).info.verified].sort()
      const sync = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(sync.status, 200, await sync.text())
      assert.deepEqual(await verified(), ['bucket1', 'kubo1', 'local'])
      // the S3 object is the pin's CAR, byte for byte
      const car = await run(['ipfs', 'dag', 'export', cid], { home })
      assert.ok(readFileSync(join(s3.dir, 'pins', `${cid}.car`)).equals(car.stdout))

      // kill -9 the managed Kubo
      const log = await (await d.call('/logs/kubo1?lines=500')).text()
      const pid = Number(/kubo daemon (\d+) started/.exec(log)?.[1])
      assert.ok(pid > 0, log)
      const killedAt = Date.now()
      process.kill(pid, 'SIGKILL')
      const seen = await until('kubo1 unhealthy in /backends', async () => {
        const b = (await json(d.call('/backends'))).backends.find((x: { name: string }) => x.name === 'kubo1')
        return b.health?.status === 'unhealthy' ? b.health : undefined
      })
      // one health interval (1 s) plus the probe itself; generous for a loaded machine
      assert.ok(Date.now() - killedAt < 10_000, `seen after ${Date.now() - killedAt} ms`)
      assert.match(seen.error, /not running|kubo backend kubo1/)
      // repaired onto the spare: three verified again, without kubo1
      const repaired = await until('repaired onto the spare', async () => {
        const v = await verified()
        return v.includes('spare') && !v.includes('kubo1') && v.length >= 3 ? v : undefined
      })
      assert.deepEqual(repaired, ['bucket1', 'local', 'spare'])
      const status = await run(['pin', 'status', cid], { home })
      assert.equal(status.code, 0, status.stderr)

      // Kubo back: its replica (the pin survived in its repo) counts again
      const started = await d.call('/backends/start/kubo1', { method: 'POST' })
      assert.ok(started.status < 300, await started.text())
      await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      const back = await until('kubo1 counts again', async () => {
        const v = await verified()
        return v.includes('kubo1') ? v : undefined
      })
      assert.deepEqual(back, ['bucket1', 'kubo1', 'local', 'spare'])
    } finally {
      await d.stop()
      await s3.close()
    }
  })
})
