import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { run, suiteTempDir } from './helpers/cli.ts'
import { startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'

/**
 * `pin rm` while a backend holding a replica hangs. The hung backend is a pinning service whose
 * endpoint accepts connections and never answers (a TCP listener on loopback standing in for a
 * remote service that stopped responding: no real service can be made to hang on demand here).
 */
describe('pin rm with a backend that never answers', () => {
  const tmp = suiteTempDir()
  const sockets: Socket[] = []
  const blackHole = createServer((s) => {
    sockets.push(s) // accepted, never answered
  })
  let daemon: TestDaemon
  let home: string
  let cid: string

  before(async () => {
    await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r))
    const port = (blackHole.address() as { port: number }).port
    home = join(tmp.dir, 'home')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 1000 },
      // min 1, max 2: the replica on the hung service is wanted, never trimmed
      replication: { min_replicas: 1, max_replicas: 2, preferred: [], excluded: [] },
      backends: [
        {
          name: 'hung',
          type: 'pinning-service',
          endpoint: `http://127.0.0.1:${port}`,
          token: 'a-token',
          timeout_ms: 600_000,
        },
      ],
    })
    const file = join(tmp.dir, 'a.txt')
    writeFileSync(file, 'pinned on a service that stops answering\n')
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    cid = added.stdout.toString().trim()
    // the service held a verified replica before it stopped answering (seeded: it never answers now)
    const db = new Database(join(home, 'state.db'))
    db.prepare(
      "INSERT INTO replicas (cid, backend, state, verified_at, updated_at) VALUES (?, 'hung', 'verified', ?, ?)",
    ).run(cid, Date.now(), Date.now())
    db.close()
    daemon = await startDaemon(home)
  })
  after(async () => {
    await daemon?.stop()
    for (const s of sockets) s.destroy()
    blackHole.close()
  })

  it('answers once the unpin deadline passes, the pin is gone, and the log names the backend', async () => {
    const res = await daemon.call(`/pins/${cid}`, { method: 'DELETE', signal: AbortSignal.timeout(60_000) })
    assert.equal(res.status, 202, await res.text())
    assert.equal((await daemon.call(`/pins/${cid}`)).status, 404)
    const list = await run(['--json', 'pin', 'list'], { home })
    assert.doesNotMatch(list.stdout.toString(), new RegExp(cid))
    const log = readFileSync(join(home, 'logs', 'daemon.log'), 'utf8')
    assert.match(log, /"backend":"hung".*unpin failed|unpin failed.*"backend":"hung"/)
    assert.match(log, /the next sync's sweep removes it/)
  })

  it('the daemon still stops cleanly (exit 0) while the service keeps not answering', async () => {
    const code = await Promise.race([
      daemon.stop(),
      new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000).unref()),
    ])
    assert.equal(code, 0)
  })
})
