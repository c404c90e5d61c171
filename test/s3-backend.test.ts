/**
 * The `s3` backend against a real S3 server on loopback: versitygw v1.8.0 (scripts/install-go-tools.sh
 * builds it) serving a temp directory. One CAR object per pin, uploaded as a multipart stream, read
 * back and re-hashed; an aborted upload leaves neither an object nor an unfinished multipart upload;
 * the credentials never show in a log line, an error, `GET /config` or `config show`.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3'
import { S3Backend, S3Options } from '../src/backends/s3.ts'
import { add } from '../src/content/add.ts'
import { exportCar } from '../src/content/car.ts'
import { Repo } from '../src/repo.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { rssGrowth, writeRandomFile } from './helpers/fixtures.ts'
import { type S3Server, startS3Server } from './helpers/s3.ts'

const MiB = 1 << 20

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of source) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

describe('s3 backend against versitygw', () => {
  const tmp = suiteTempDir()
  let s3: S3Server
  let repo: Repo
  let backend: S3Backend
  const lines: string[] = []

  before(async () => {
    s3 = await startS3Server()
    repo = Repo.open(join(tmp.dir, 'repo'))
    const opts = S3Options.parse({
      name: 'bucket1',
      type: 's3',
      endpoint: s3.endpoint,
      bucket: 'pins',
      prefix: 'ipfs/',
      access_key_id: s3.accessKey,
      secret_access_key: s3.secretKey,
      create_bucket: true,
      part_size: 5 * MiB,
    })
    backend = new S3Backend(opts, { dataDir: tmp.dir, log: (l) => lines.push(l) })
    await backend.start()
  })
  after(async () => {
    await backend?.stop()
    repo?.close()
    await s3?.close()
  })

  it('uploads a 256 MiB pin as a multipart stream with bounded memory, reads the same CAR back, verifies, unpins', async () => {
    const file = join(tmp.dir, 'big.bin')
    writeRandomFile(file, 256 * MiB, 's3-backend')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    assert.equal(await backend.has(root), false)
    const grew = await rssGrowth(() => backend.put(root, exportCar(repo.blocks, root)))
    // two 5 MiB parts in flight plus the SDK's own buffers, and garbage: V8 collects dead buffers only
    // once about 64 MiB of them have piled up, so a pin much larger than that tells bounded from not
    assert.ok(grew < 128 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB during a 256 MiB upload`)
    assert.equal(await backend.has(root), true)
    // on the server: one object under the prefix, named by the CID
    assert.deepEqual(readdirSync(join(s3.dir, 'pins', 'ipfs')), [`${root}.car`])
    const ours = await collect(exportCar(repo.blocks, root))
    assert.ok(
      ours.equals(await collect(backend.get(root))),
      'the object read back is not the CAR we uploaded',
    )
    const verified = await backend.verify(root)
    assert.equal(verified.ok, true, verified.error)
    assert.equal(verified.bytes > 256 * MiB, true)
    const stat = await backend.stat()
    assert.deepEqual({ pins: stat.pins, usedBytes: stat.usedBytes }, { pins: 1, usedBytes: ours.length })
    assert.equal((await backend.health()).status, 'healthy')
    await backend.unpin(root)
    assert.equal(await backend.has(root), false)
    await backend.unpin(root)
  })

  it('an upload aborted mid-stream leaves no object and no unfinished multipart upload', async () => {
    const file = join(tmp.dir, 'aborted.bin')
    writeRandomFile(file, 24 * MiB, 's3-abort')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    const ac = new AbortController()
    async function* abortAfter12MiB(): AsyncGenerator<Uint8Array> {
      let sent = 0
      for await (const chunk of exportCar(repo.blocks, root)) {
        yield chunk
        sent += chunk.length
        if (sent > 12 * MiB && !ac.signal.aborted) {
          ac.abort()
          await new Promise((r) => setTimeout(r, 20))
        }
      }
    }
    await assert.rejects(backend.put(root, abortAfter12MiB(), { signal: ac.signal }), { name: 'AbortError' })
    assert.equal(await backend.has(root), false)
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    })
    // the SDK aborts the upload on the server; give it a moment to land
    let uploads: unknown[] = []
    for (let i = 0; i < 50; i++) {
      uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: 'pins' }))).Uploads ?? []
      if (uploads.length === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    client.destroy()
    assert.deepEqual(uploads, [], 'an unfinished multipart upload was left behind')
  })

  it('a corrupted object is found by verify, naming the block', async () => {
    const file = join(tmp.dir, 'corrupt.bin')
    writeRandomFile(file, 2 * MiB, 's3-corrupt')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    await backend.put(root, exportCar(repo.blocks, root))
    const onDisk = join(s3.dir, 'pins', 'ipfs', `${root}.car`)
    const bytes = readFileSync(onDisk)
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff
    writeFileSync(onDisk, bytes)
    const verified = await backend.verify(root)
    assert.equal(verified.ok, false)
    assert.match(verified.error ?? '', /does not hash to its CID/)
  })

  it('wrong credentials: unhealthy with the reason, and the secret appears nowhere', async () => {
    const secret = 'a-secret-that-must-never-show-0123456789'
    const bad = new S3Backend(
      S3Options.parse({
        name: 'bad',
        type: 's3',
        endpoint: s3.endpoint,
        bucket: 'pins',
        access_key_id: s3.accessKey,
        secret_access_key: secret,
      }),
      { dataDir: tmp.dir, log: (l) => lines.push(l) },
    )
    const h = await bad.health()
    assert.equal(h.status, 'unhealthy')
    assert.match(h.error ?? '', /s3 backend bad: head bucket/)
    assert.ok(!(h.error ?? '').includes(secret))
    const { CID } = await import('multiformats/cid')
    const err = await bad
      .has(CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'))
      .catch((e) => e)
    assert.ok(err instanceof Error)
    assert.match(err.message, /s3 backend bad/)
    assert.ok(!err.message.includes(secret))
    assert.ok(!lines.join('\n').includes(secret) && !lines.join('\n').includes(s3.secretKey))
    await bad.stop()
  })

  it('refuses a config with one credential and not the other, or a bad bucket name', () => {
    const base = { name: 'x', type: 's3', endpoint: s3.endpoint }
    assert.throws(() => S3Options.parse({ ...base, bucket: 'pins', access_key_id: 'a' }), /secret_access_key/)
    assert.throws(() => S3Options.parse({ ...base, bucket: 'Bad_Bucket' }), /S3 bucket name/)
  })
})

describe('s3 backend in the daemon', () => {
  const tmp = suiteTempDir()

  it('replicates a pin onto S3 (the object is byte-identical to dag export), and never shows the secret', async () => {
    const s3 = await startS3Server()
    try {
      const home = join(tmp.dir, 'home')
      writeConfig(home, {
        node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        replication: { min_replicas: 2, max_replicas: 2 },
        backends: [
          {
            name: 'bucket1',
            type: 's3',
            endpoint: s3.endpoint,
            bucket: 'daemon-pins',
            create_bucket: true,
            access_key_id: s3.accessKey,
            secret_access_key: s3.secretKey,
          },
        ],
      })
      const file = join(tmp.dir, 'pin.bin')
      writeRandomFile(file, 6 * MiB, 's3-daemon')
      const added = await run(['ipfs', 'add', '-Q', '--cid-version', '1', file], { home })
      assert.equal(added.code, 0, added.stderr)
      const cid = added.stdout.toString().trim()
      const d = await startDaemon(home)
      try {
        const r = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
        assert.equal(r.status, 200, await r.text())
        const pin = await json(d.call(`/pins/${cid}`))
        const why = async () =>
          `${JSON.stringify(pin)}\n${JSON.stringify(await json(d.call('/backends')))}\n${await (await d.call('/logs/daemon?lines=50')).text()}`
        assert.deepEqual([...pin.info.verified].sort(), ['bucket1', 'local'], await why())
        const exported = await run(['ipfs', 'dag', 'export', cid], { home })
        assert.equal(exported.code, 0, exported.stderr)
        const object = readFileSync(join(s3.dir, 'daemon-pins', `${cid}.car`))
        assert.ok(object.equals(exported.stdout), 'the S3 object differs from `ipfs-kit ipfs dag export`')
        // the secret is in config.json (the user put it there) and nowhere else
        const config = await (await d.call('/config')).text()
        assert.ok(!config.includes(s3.secretKey), 'GET /config shows the secret')
        assert.match(config, /"secret_access_key":"\*\*\*"/)
        const shown = await run(['config', 'show'], { home })
        assert.ok(!shown.stdout.toString().includes(s3.secretKey), '`config show` shows the secret')
        // a GET /config edited and sent back keeps the real secret
        const put = await d.call('/config', {
          method: 'PUT',
          json: { backends: JSON.parse(config).backends },
        })
        assert.equal(put.status, 200, await put.text())
        assert.ok(readFileSync(join(home, 'config.json'), 'utf8').includes(s3.secretKey))
        const logs = await (await d.call('/logs/bucket1?lines=1000')).text()
        const daemonLog = await (await d.call('/logs/daemon?lines=1000')).text()
        assert.ok(
          !logs.includes(s3.secretKey) && !daemonLog.includes(s3.secretKey),
          'a log line shows the secret',
        )
      } finally {
        await d.stop()
      }
    } finally {
      await s3.close()
    }
  })
})
