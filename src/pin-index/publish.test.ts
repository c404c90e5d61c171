import assert from 'node:assert/strict'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type FileMetaData, parquetMetadata, parquetReadObjects } from 'hyparquet'
import { tempDir } from '../../test/helpers/cli.ts'
import { IpfsKitError } from '../errors.ts'
import { openStateDb, type StateDb } from '../state/db.ts'
import { PinStore } from '../state/pins.ts'
import { ReplicaStore } from '../state/replicas.ts'
import { PinIndexPublisher, type PublishResult, publishPinIndex } from './publish.ts'
import { PIN_INDEX_COLUMNS, type PinIndexRow, ROW_GROUP_ROWS } from './schema.ts'

function fakeCid(i: number): string {
  // CID-shaped text is enough: the index stores what state.db holds
  return `bafkrei${i.toString(36).padStart(52, '0')}`
}

async function readIndex(dataDir: string): Promise<{ rows: PinIndexRow[]; meta: FileMetaData }> {
  const buf = readFileSync(join(dataDir, 'index', 'pins.parquet'))
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer
  const meta = parquetMetadata(file)
  const rows = (await parquetReadObjects({ file })) as unknown as PinIndexRow[]
  return { rows, meta }
}

/** The index as it should be, straight from SQL (a LEFT JOIN, unlike the publisher's merge). */
function expectedRows(db: StateDb): PinIndexRow[] {
  const rows = db
    .prepare(
      `SELECT p.cid, p.name, p.size, r.backend, coalesce(r.state, p.status) AS state, r.verified_at,
              p.created_at, p.status, p.min_replicas, p.max_replicas, r.detail
       FROM pins p LEFT JOIN replicas r ON r.cid = p.cid ORDER BY p.cid, r.backend`,
    )
    .all() as {
    cid: string
    name: string | null
    size: number | null
    backend: string | null
    state: string
    verified_at: number | null
    created_at: number
    status: string
    min_replicas: number | null
    max_replicas: number | null
    detail: string | null
  }[]
  return rows.map((r) => ({
    cid: r.cid,
    name: r.name,
    size: r.size == null ? null : BigInt(r.size),
    backend: r.backend,
    state: r.state,
    verified_at: r.verified_at == null ? null : new Date(r.verified_at),
    pinned_at: new Date(r.created_at),
    status: r.status,
    min_replicas: r.min_replicas,
    max_replicas: r.max_replicas,
    detail: r.detail,
  }))
}

function noTempFiles(dataDir: string): void {
  assert.deepEqual(readdirSync(join(dataDir, 'index')), ['pins.parquet'], 'no temp file remains')
}

describe('pin index', () => {
  let tmp: ReturnType<typeof tempDir>
  let db: StateDb
  before(() => {
    tmp = tempDir()
    db = openStateDb(join(tmp.dir, 'state.db'))
  })
  after(() => {
    db.close()
    tmp.cleanup()
  })

  it('publishes a valid empty index for an empty database', async () => {
    const r = await publishPinIndex(tmp.dir)
    assert.deepEqual([r.rows, r.pins], [0, 0])
    const { rows, meta } = await readIndex(tmp.dir)
    assert.deepEqual(rows, [])
    assert.equal(meta.num_rows, 0n)
    assert.deepEqual(
      meta.schema.slice(1).map((s) => s.name),
      [...PIN_INDEX_COLUMNS],
    )
    noTempFiles(tmp.dir)
  })

  it('matches the database row for row: every replica, and pins without one', async () => {
    const pins = new PinStore(db)
    const replicas = new ReplicaStore(db)
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        // inserted out of CID order, as a daemon would
        const cid = fakeCid((i * 7919) % 20_000)
        pins.add(cid, {
          name: i % 7 === 0 ? undefined : `pin ${i} ✓`,
          status: i % 10 === 0 ? 'queued' : i % 10 === 5 ? 'failed' : 'pinned',
          size: i % 3 === 0 ? undefined : 2 ** 40 + i,
          policy: i % 3 === 0 ? { minReplicas: 2, maxReplicas: 3 } : {},
        })
        if (i % 10 === 0 || i % 10 === 5) continue // no replica yet
        replicas.set(cid, 'local', 'verified')
        if (i % 4 === 0) replicas.set(cid, 'nas', 'copying')
        if (i % 5 === 0)
          replicas.set(cid, 'cluster', 'verified', null, `pinned on ${1 + (i % 3)} of 3 cluster peers`)
        if (i % 6 === 0) replicas.set(cid, 's3', i % 12 === 0 ? 'lost' : 'failed', 'gone')
      }
    })()
    const r = await publishPinIndex(tmp.dir, { policy: { min_replicas: 1 } })
    const { rows, meta } = await readIndex(tmp.dir)
    const expected = expectedRows(db)
    assert.equal(r.rows, expected.length)
    assert.equal(r.pins, 20_000)
    assert.deepEqual(rows, expected)

    // a pin without replicas still has its row, with its status as the state
    const queued = rows.find((x) => x.cid === fakeCid(0))
    assert.deepEqual([queued?.backend, queued?.state, queued?.status], [null, 'queued', 'queued'])
    assert.equal(rows.filter((x) => x.backend === null).length, 4000)
    assert.equal(new Set(rows.map((x) => x.cid)).size, 20_000)

    const kv = Object.fromEntries((meta.key_value_metadata ?? []).map((e) => [e.key, e.value]))
    assert.equal(kv['ipfs-kit.schema'], '1')
    assert.deepEqual(JSON.parse(kv['ipfs-kit.policy'] ?? 'null'), { min_replicas: 1 })
    noTempFiles(tmp.dir)
  })

  it('sorts by CID in small row groups whose cid statistics bound them exactly', async () => {
    const { rows, meta } = await readIndex(tmp.dir)
    const cids = rows.map((x) => x.cid)
    assert.deepEqual(cids, [...cids].sort(), 'sorted by cid (byte order)')
    assert.ok(meta.row_groups.length >= 5, `several row groups (${meta.row_groups.length})`)
    let start = 0
    let previousMax = ''
    for (const g of meta.row_groups) {
      const n = Number(g.num_rows)
      assert.ok(n >= ROW_GROUP_ROWS || start + n === rows.length, 'only the last group is short')
      assert.ok(n < ROW_GROUP_ROWS + 3, 'a group ends at the first pin boundary after ROW_GROUP_ROWS')
      const stats = g.columns[0]?.meta_data?.statistics
      assert.equal(stats?.min_value, cids[start], 'min is the first cid, untruncated')
      assert.equal(stats?.max_value, cids[start + n - 1], 'max is the last cid, untruncated')
      assert.ok(String(stats?.min_value) > previousMax, 'no pin spans two groups')
      previousMax = String(stats?.max_value)
      start += n
    }
    assert.equal(start, rows.length)
  })

  it('never shows a reader a partial file while publishes run', async () => {
    const published: PublishResult[] = []
    const publisher = new PinIndexPublisher(tmp.dir, { onPublished: (r) => published.push(r) })
    let reads = 0
    let publishing = true
    const reader = (async () => {
      while (publishing) {
        const { rows } = await readIndex(tmp.dir) // throws on a torn or half-written file
        assert.ok(rows.length > 20_000)
        reads++
        await new Promise((r) => setImmediate(r))
      }
    })()
    try {
      for (let i = 0; i < 20; i++) await publisher.flush()
    } finally {
      publishing = false
      await reader
      await publisher.close()
    }
    assert.equal(published.length, 20)
    assert.ok(reads >= 5, `the reader kept reading (${reads} reads)`)
    noTempFiles(tmp.dir)
  })

  it('coalesces a burst of changes into one publish, and republishes a change made during one', async () => {
    const published: PublishResult[] = []
    const publisher = new PinIndexPublisher(tmp.dir, { onPublished: (r) => published.push(r) })
    const pins = new PinStore(db)
    const waitFor = async (publishes: number) => {
      const started = Date.now()
      while (published.length < publishes && Date.now() - started < 10_000) await sleep(5)
      assert.equal(published.length, publishes)
    }
    try {
      for (let i = 0; i < 10; i++) {
        pins.add(fakeCid(100_000 + i))
        publisher.schedule()
      }
      await waitFor(1)
      assert.equal(published[0]?.pins, 20_010)
      await sleep(400)
      assert.equal(published.length, 1, 'one publish for the whole burst')

      // a change while a publish runs (which may have read the database before it): one more follows
      const flushed = publisher.flush()
      pins.add(fakeCid(100_010))
      const changedAt = Date.now()
      publisher.schedule()
      await flushed
      await waitFor(3)
      const ms = Date.now() - changedAt
      assert.equal(published[2]?.pins, 20_011)
      // about a second: debounce (250 ms) plus the rest of the publish in flight plus one more.
      // Bounded loosely, as other processes may share the CPU.
      assert.ok(ms < 2000, `published ${ms} ms after the last change`)
      await sleep(400)
      assert.equal(published.length, 3, 'and nothing more')
    } finally {
      await publisher.close()
    }
    publisher.schedule() // after close: ignored
    assert.ok((await readIndex(tmp.dir)).rows.some((x) => x.cid === fakeCid(100_010)))
  })

  it('stops its worker threads once idle, and starts them again for the next publish', async () => {
    const published: PublishResult[] = []
    const publisher = new PinIndexPublisher(tmp.dir, {
      retireAfterMs: 200,
      onPublished: (r) => published.push(r),
    })
    try {
      assert.equal(publisher.threadsRunning, false, 'no threads before the first publish')
      await publisher.flush()
      assert.equal(publisher.threadsRunning, true)
      await sleep(500)
      assert.equal(publisher.threadsRunning, false, 'the threads retire after 200 ms without a publish')
      new PinStore(db).add(fakeCid(200_000))
      await publisher.flush()
      assert.equal(published.length, 2)
      assert.equal(published[1]!.pins, published[0]!.pins + 1)
      assert.ok((await readIndex(tmp.dir)).rows.some((x) => x.cid === fakeCid(200_000)))
    } finally {
      await publisher.close()
    }
    assert.equal(publisher.threadsRunning, false)
  })

  it('fails with ERR_INDEX, leaving no temp file, when state.db cannot be read', async () => {
    const other = tempDir()
    try {
      await assert.rejects(publishPinIndex(other.dir), (err: unknown) => {
        assert.ok(err instanceof IpfsKitError)
        assert.equal(err.code, 'ERR_INDEX')
        return true
      })
      assert.deepEqual(readdirSync(join(other.dir, 'index')), [])
      const errors: unknown[] = []
      const publisher = new PinIndexPublisher(other.dir, { onError: (e) => errors.push(e) })
      await publisher.flush() // reports, does not throw
      assert.equal(errors.length, 1)
      // and recovers once the database is there
      openStateDb(join(other.dir, 'state.db')).close()
      await publisher.flush()
      await publisher.close()
      assert.equal(errors.length, 1)
      assert.deepEqual((await readIndex(other.dir)).rows, [])
    } finally {
      other.cleanup()
    }
  })

  it('removes temp files left by a publisher that died', async () => {
    const stale = join(tmp.dir, 'index', 'pins.parquet.tmp-999999999-1')
    writeFileSync(stale, 'half a file')
    await publishPinIndex(tmp.dir)
    noTempFiles(tmp.dir)
  })
})

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
