import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { run, suiteTempDir } from './helpers/cli.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import { openWorld, type QuietLocal } from './helpers/world.ts'

const MiB = 1 << 20

/** Adds a file of `size` random bytes with the CLI (a pinned DAG with a verified `local` replica). */
async function add(home: string, name: string, size: number): Promise<string> {
  const file = join(home, '..', `${name}.bin`)
  mkdirSync(join(home, '..'), { recursive: true })
  writeRandomFile(file, size, name)
  const r = await run(['ipfs', 'add', '-Q', file], { home })
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.toString().trim()
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`never happened: ${what}`)
}

const backends = (
  w: { repo: { replicas: { of(c: string): { backend: string; state: string }[] } } },
  cid: string,
) =>
  w.repo.replicas
    .of(cid)
    .filter((r) => r.state === 'verified')
    .map((r) => r.backend)
    .sort()

describe('nothing stays that no pin wants', () => {
  const tmp = suiteTempDir()

  it('pin rm during a copy to a filesystem backend: after the next sync, no CAR and no temp file of it remain', async () => {
    const home = join(tmp.dir, 'rm-mid-copy', 'home')
    const cid = await add(home, 'big', 24 * MiB)
    const w = await openWorld(home, ['fs1'], { min_replicas: 2, max_replicas: 2 })
    try {
      const local = w.supervisor.get('local') as QuietLocal
      let release!: () => void
      local.gate = new Promise<void>((r) => {
        release = r
      })
      const first = w.reconciler.sync()
      await until(() => readdirSync(w.dirs.fs1!).some((f) => f.includes('.car.tmp-')), 'the copy started')
      // what DELETE /pins/:cid does
      w.repo.pins.remove(cid)
      w.reconciler.forget(cid)
      release()
      await first
      const report = await w.reconciler.sync()
      assert.deepEqual(readdirSync(w.dirs.fs1!), [], 'no CAR and no temp file of the removed pin')
      assert.equal(report.failed, 0)
      assert.ok(
        w.events.some((e) => e.type === 'replica' && e.cid === cid && e.state === 'removed'),
        'the cancelled copy is reported',
      )
    } finally {
      await w.close()
    }
  })

  it('a sync removes an orphan CAR and a dead writer temp file placed by hand, and reports them', async () => {
    const home = join(tmp.dir, 'orphans', 'home')
    const cid = await add(home, 'kept', 1 * MiB)
    const w = await openWorld(home, ['fs1'], { min_replicas: 2, max_replicas: 2 })
    try {
      await w.reconciler.sync()
      const dir = w.dirs.fs1!
      const orphan = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('nobody pins me')))
      writeFileSync(join(dir, `${orphan}.car`), Buffer.alloc(200_000, 1))
      // a writer that died: a pid that cannot be alive (above pid_max)
      writeFileSync(join(dir, `.${orphan}.car.tmp-${4_194_999}-${Date.now()}`), Buffer.alloc(50_000, 2))
      writeFileSync(join(dir, 'notes.txt'), 'the user keeps this here')
      const report = await w.reconciler.sync()
      assert.deepEqual(readdirSync(dir).sort(), [`${cid}.car`, 'notes.txt'])
      assert.equal(report.swept, 2)
      assert.equal(report.sweptBytes, 250_000)
      assert.deepEqual(w.reconciler.swept, { files: 2, bytes: 250_000 })
      const event = w.events.find((e) => e.type === 'sweep')
      assert.ok(event != null && event.type === 'sweep' && event.backend === 'fs1' && event.removed === 2)
      assert.deepEqual(backends(w, cid), ['fs1', 'local'])
    } finally {
      await w.close()
    }
  })

  it('trimming extra replicas never drops local, so the state and the disk agree', async () => {
    const home = join(tmp.dir, 'trim', 'home')
    const cid = await add(home, 'trim', 1 * MiB)
    const w = await openWorld(home, ['fs1', 'fs2'])
    try {
      w.repo.pins.add(cid, { policy: { minReplicas: 3, maxReplicas: 3 } })
      await w.reconciler.sync()
      assert.deepEqual(backends(w, cid), ['fs1', 'fs2', 'local'])
      w.repo.pins.add(cid, { policy: { minReplicas: 1, maxReplicas: 1 } })
      const report = await w.reconciler.sync()
      assert.equal(report.removed, 2)
      assert.deepEqual(backends(w, cid), ['local'], 'local keeps the one replica the policy allows')
      assert.ok(await w.supervisor.get('local').has(CID.parse(cid)), 'and its blocks are on disk')
      assert.equal(existsSync(join(w.dirs.fs1!, `${cid}.car`)), false)
      assert.equal(existsSync(join(w.dirs.fs2!, `${cid}.car`)), false)
    } finally {
      await w.close()
    }
  })
})

describe('work proportional to the change', () => {
  const tmp = suiteTempDir()

  /** Seeds `n` pins straight into SQLite, each with a verified local replica (nothing to do for them). */
  async function seed(w: Awaited<ReturnType<typeof openWorld>>, n: number): Promise<void> {
    const now = Date.now()
    const pin = w.repo.db.prepare(
      "INSERT INTO pins (cid, type, status, created_at) VALUES (?, 'recursive', 'pinned', ?)",
    )
    const replica = w.repo.db.prepare(
      "INSERT INTO replicas (cid, backend, state, verified_at, updated_at) VALUES (?, 'local', 'verified', ?, ?)",
    )
    const cids: string[] = []
    for (let i = 0; i < n; i++) {
      cids.push(CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`seed ${i}`))).toString())
    }
    w.repo.db.transaction(() => {
      for (const c of cids) {
        pin.run(c, now)
        replica.run(c, now, now)
      }
    })()
  }

  it('a pin change reconciles that pin alone, not every pin', async () => {
    const home = join(tmp.dir, 'queue', 'home')
    const cid = await add(home, 'queued', 1 * MiB)
    const w = await openWorld(home, ['fs1'])
    try {
      await seed(w, 500)
      w.repo.pins.add(cid, { policy: { minReplicas: 2 } })
      w.reconciler.enqueue(cid)
      await until(() => backends(w, cid).length === 2, 'the pin was copied')
      assert.deepEqual(backends(w, cid), ['fs1', 'local'])
      assert.equal(
        w.events.filter((e) => e.type === 'replication').length,
        0,
        'no full pass ran for one pin change',
      )
    } finally {
      await w.close()
    }
  })

  it('a pin another process adds (the CLI) is found by a paged look for changes and reconciled alone', async () => {
    const home = join(tmp.dir, 'external', 'home')
    const w = await openWorld(home, ['fs1'], { min_replicas: 2, max_replicas: 2 })
    try {
      await seed(w, 3000)
      const cid = await add(home, 'external', 1 * MiB) // another process writes state.db
      w.reconciler.catchUp() // what the daemon does when state.db's data_version moves
      await until(() => backends(w, cid).length === 2, 'the pin was copied')
      assert.deepEqual(backends(w, cid), ['fs1', 'local'])
      assert.equal(w.events.filter((e) => e.type === 'replication').length, 0, 'no full pass ran')
      const copies = w.events.filter((e) => e.type === 'replica' && e.state === 'copying')
      assert.deepEqual(
        copies.map((e) => (e.type === 'replica' ? e.cid : '')),
        [cid],
        'only the changed pin was reconciled (the seeded ones want a second copy too)',
      )
    } finally {
      await w.close()
    }
  })

  it('a full pass yields to the event loop between pins and serves a pin change before it goes on', async () => {
    const home = join(tmp.dir, 'slices', 'home')
    const cid = await add(home, 'midpass', 1 * MiB)
    const w = await openWorld(home, ['fs1'])
    try {
      await seed(w, 3000)
      let passDone = false
      let timerRanDuringPass = false
      const pass = w.reconciler.sync().then((r) => {
        passDone = true
        return r
      })
      setTimeout(() => {
        timerRanDuringPass = !passDone
        w.repo.pins.add(cid, { policy: { minReplicas: 2 } })
        w.reconciler.enqueue(cid)
      }, 0)
      const report = await pass
      assert.ok(timerRanDuringPass, 'a timer ran while the pass was in progress')
      const copied = w.events.findIndex(
        (e) => e.type === 'replica' && e.cid === cid && e.state === 'verified',
      )
      const finished = w.events.findIndex((e) => e.type === 'replication' && e.phase === 'finished')
      assert.ok(copied !== -1 && copied < finished, 'the changed pin was done before the pass finished')
      assert.ok(report.pins >= 3000 && report.pins <= 3001, `each pin once: ${report.pins}`)
    } finally {
      await w.close()
    }
  })

  it('a full pass stopped by a restart goes on where it stopped, not from the first pin', async () => {
    const home = join(tmp.dir, 'resume', 'home')
    await add(home, 'resume', 64 * 1024)
    let w = await openWorld(home, ['fs1'])
    let doneBefore = 0
    try {
      await seed(w, 20_000)
      void w.reconciler.sync().catch(() => {})
      // stop the daemon's reconciler part way through (as SIGTERM does), once a slice is saved
      const cursorRow = w.repo.db.prepare('SELECT cursor FROM pass_cursor')
      await until(() => cursorRow.get() != null, 'a saved cursor')
    } finally {
      await w.close()
    }
    w = await openWorld(home, ['fs1'])
    try {
      const cursor = w.repo.db.prepare('SELECT cursor FROM pass_cursor').get() as
        | { cursor: string }
        | undefined
      assert.ok(cursor != null, 'the interrupted pass left its cursor in state.db')
      doneBefore = (
        w.repo.db.prepare('SELECT count(*) AS n FROM pins WHERE cid <= ?').get(cursor.cursor) as { n: number }
      ).n
      assert.ok(doneBefore >= 256 && doneBefore < 20_001, `stopped after ${doneBefore} pins`)
      const report = await w.reconciler.sync()
      assert.equal(report.resumedAfter, cursor.cursor)
      assert.equal(report.pins, 20_001 - doneBefore, 'the rest of the pins, each once')
      const left = w.repo.db.prepare('SELECT count(*) AS n FROM pass_cursor').get() as { n: number }
      assert.equal(left.n, 0, 'cleared at the end')
      const next = await w.reconciler.sync()
      assert.equal(next.resumedAfter, undefined)
      assert.equal(next.pins, 20_001, 'the next pass is whole')
    } finally {
      await w.close()
    }
  })

  it('callers during a running sync share exactly one next pass', async () => {
    const home = join(tmp.dir, 'share', 'home')
    await add(home, 'share', 256 * 1024)
    const w = await openWorld(home, ['fs1'])
    try {
      await seed(w, 200)
      const first = w.reconciler.sync()
      const second = w.reconciler.sync()
      const third = w.reconciler.sync({ verify: true })
      assert.equal(second, third)
      const [a, b] = await Promise.all([first, second])
      assert.equal(b.pass, a.pass + 1)
      assert.ok(b.verified >= 1, 'the shared pass verifies, as one of its callers asked')
      assert.equal(w.reconciler.last?.pass, b.pass, 'no third pass')
    } finally {
      await w.close()
    }
  })
})
