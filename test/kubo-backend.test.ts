/**
 * The `kubo` backend against a real Kubo 0.41 daemon on loopback (scripts/install-go-tools.sh builds
 * it): a pin goes in as `dag import` of our CAR and comes back byte for byte through `dag export`;
 * Kubo's own CLI sees the pin; an aborted import leaves no pin; a block Kubo lacks is an error, not
 * a network wait. Then the same through the daemon: a managed Kubo started and stopped with it.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { KuboBackend, KuboOptions } from '../src/backends/kubo.ts'
import { add } from '../src/content/add.ts'
import { exportCar } from '../src/content/car.ts'
import { Repo } from '../src/repo.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { json, startDaemon, writeConfig } from './helpers/daemon.ts'
import { rssGrowth, writeRandomFile } from './helpers/fixtures.ts'
import { KUBO_BIN } from './helpers/kubo.ts'
import { type KuboDaemon, startKuboDaemon } from './helpers/kubo-daemon.ts'

const MiB = 1 << 20

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of source) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

describe('kubo backend (attached to a real Kubo daemon)', () => {
  const tmp = suiteTempDir()
  let kubo: KuboDaemon
  let repo: Repo
  let backend: KuboBackend
  const lines: string[] = []

  before(async () => {
    kubo = await startKuboDaemon()
    repo = Repo.open(join(tmp.dir, 'repo'))
    const opts = KuboOptions.parse({ name: 'kubo1', type: 'kubo', api_url: kubo.apiUrl })
    backend = new KuboBackend(opts, { dataDir: tmp.dir, log: (l) => lines.push(l) })
    await backend.start()
  })
  after(async () => {
    await backend?.stop()
    repo?.close()
    await kubo?.close()
  })

  it('puts a 24 MiB file as a pinned DAG, reads the same CAR back, verifies it, unpins it', async () => {
    const file = join(tmp.dir, 'big.bin')
    writeRandomFile(file, 24 * MiB, 'kubo-backend')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1, rawLeaves: true })
    const root = entry!.cid
    assert.equal(await backend.has(root), false)
    await backend.put(root, exportCar(repo.blocks, root))
    assert.equal(await backend.has(root), true)
    // Kubo itself says so
    const pins = await kubo.ipfs(['pin', 'ls', '--type=recursive', '--quiet'])
    assert.ok(pins.split('\n').includes(root.toString()), pins)
    assert.ok(
      (await kubo.ipfsBytes(['cat', root.toString()])).equals(readFileSync(file)),
      'Kubo serves other bytes',
    )
    // the CAR Kubo exports is the one we sent (same blocks, same order)
    const ours = await collect(exportCar(repo.blocks, root))
    const theirs = await collect(backend.get(root))
    assert.ok(ours.equals(theirs), 'the CAR read back from Kubo differs from ours')
    const verified = await backend.verify(root)
    assert.equal(verified.ok, true, verified.error)
    assert.ok(verified.blocks > 90, `blocks ${verified.blocks}`)
    const stat = await backend.stat()
    assert.ok(stat.pins >= 1 && stat.usedBytes >= 24 * MiB, JSON.stringify(stat))
    const health = await backend.health()
    assert.equal(health.status, 'healthy', health.error)
    assert.ok((health.usedBytes ?? 0) >= 24 * MiB)
    await backend.unpin(root)
    assert.equal(await backend.has(root), false)
    await backend.unpin(root) // twice is fine
  })

  it('streams a 256 MiB pin into Kubo with bounded memory (the upload waits for the socket)', async () => {
    const file = join(tmp.dir, 'bounded.bin')
    writeRandomFile(file, 256 * MiB, 'kubo-bounded')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    const grew = await rssGrowth(() => backend.put(root, exportCar(repo.blocks, root)))
    // fetch with a stream body read the whole CAR into memory first (614 MiB for 512 MiB); V8 collects
    // dead buffers only once about 64 MiB of them have piled up, so the pin is well above that
    assert.ok(grew < 128 * MiB, `RSS grew by ${(grew / MiB).toFixed(1)} MiB during a 256 MiB upload`)
    assert.equal(await backend.has(root), true)
    await backend.unpin(root)
  })

  it('an import aborted mid-stream leaves no pin', async () => {
    const file = join(tmp.dir, 'aborted.bin')
    writeRandomFile(file, 8 * MiB, 'kubo-abort')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    const ac = new AbortController()
    async function* slow(): AsyncGenerator<Uint8Array> {
      let sent = 0
      for await (const chunk of exportCar(repo.blocks, root)) {
        yield chunk
        sent += chunk.length
        if (sent > 2 * MiB) {
          ac.abort()
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    }
    await assert.rejects(backend.put(root, slow(), { signal: ac.signal }), { name: 'AbortError' })
    assert.equal(await backend.has(root), false)
  })

  it('a DAG Kubo lacks fails fast with an error naming the backend (offline read, no network wait)', async () => {
    const missing = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
    const started = Date.now()
    const verified = await backend.verify(missing)
    assert.equal(verified.ok, false)
    assert.match(verified.error ?? '', /kubo backend kubo1: dag export/)
    assert.ok(Date.now() - started < 20_000)
    await assert.rejects(collect(backend.get(missing)), /kubo backend kubo1/)
  })

  it('a truncated CAR is refused by Kubo and pins nothing', async () => {
    const file = join(tmp.dir, 'cut.bin')
    writeRandomFile(file, 4 * MiB, 'kubo-cut')
    const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1 })
    const root = entry!.cid
    const whole = await collect(exportCar(repo.blocks, root))
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield whole.subarray(0, whole.length - 1000)
    }
    await assert.rejects(backend.put(root, cut()), /kubo backend kubo1: dag import/)
    assert.equal(await backend.has(root), false)
  })

  it('health of a Kubo that is gone is unhealthy with the reason', async () => {
    const gone = new KuboBackend(
      KuboOptions.parse({ name: 'gone', type: 'kubo', api_url: 'http://127.0.0.1:9' }),
      {
        dataDir: tmp.dir,
        log: () => {},
      },
    )
    const h = await gone.health()
    assert.equal(h.status, 'unhealthy')
    assert.match(h.error ?? '', /kubo backend gone: id:/)
  })
})

describe('kubo backend managed by the daemon', () => {
  const tmp = suiteTempDir()

  it('starts Kubo with the daemon, replicates a pin onto it, logs its output, and stops it with the daemon', async () => {
    const home = join(tmp.dir, 'home')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      replication: { min_replicas: 2, max_replicas: 2 },
      backends: [{ name: 'kubo1', type: 'kubo', bin: KUBO_BIN }],
    })
    const file = join(tmp.dir, 'managed.bin')
    writeRandomFile(file, 3 * MiB, 'kubo-managed')
    const added = await run(['ipfs', 'add', '-Q', '--cid-version', '1', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const d = await startDaemon(home)
    let kuboPid: number | undefined
    try {
      const backends = await json(d.call('/backends'))
      const view = backends.backends.find((b: { name: string }) => b.name === 'kubo1')
      assert.equal(view.state, 'running', JSON.stringify(view))
      const r = await d.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(r.status, 200, await r.text())
      const pin = await json(d.call(`/pins/${cid}`))
      assert.deepEqual([...pin.info.verified].sort(), ['kubo1', 'local'], JSON.stringify(pin))
      // Kubo's own CLI, on the managed repo, sees the pin
      const repoPath = join(home, 'backends', 'kubo1', 'kubo')
      const api = readFileSync(join(repoPath, 'api'), 'utf8').trim()
      const pins = execFileSync(KUBO_BIN, [
        '--api',
        api,
        'pin',
        'ls',
        '--type=recursive',
        '--quiet',
      ]).toString()
      assert.ok(pins.split('\n').includes(cid), pins)
      const log = await (await d.call('/logs/kubo1?lines=500')).text()
      assert.match(log, /Daemon is ready/)
      const pidLine = /kubo daemon (\d+) started/.exec(log)
      assert.ok(pidLine, log)
      kuboPid = Number(pidLine[1])
      process.kill(kuboPid, 0) // alive
    } finally {
      assert.equal(await d.stop(), 0)
    }
    assert.ok(kuboPid != null)
    assert.throws(() => process.kill(kuboPid!, 0), { code: 'ESRCH' }, 'the managed Kubo outlived the daemon')
  })
})
