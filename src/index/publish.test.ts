import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parquetMetadata, parquetReadObjects } from 'hyparquet'
import { tempDir } from '../../test/helpers/cli.ts'
import { openStateDb, type StateDb } from '../state/db.ts'
import { PinStore } from '../state/pins.ts'
import { ReplicaStore } from '../state/replicas.ts'
import { PinIndexPublisher, publishPinIndex } from './publish.ts'
import type { PinIndexRow } from './schema.ts'

function fakeCid(i: number): string {
  // valid-looking, sortable CID strings are enough for the index (it stores text)
  return `bafkrei${i.toString(36).padStart(52, '0')}`
}

async function read(dataDir: string): Promise<{ rows: PinIndexRow[]; groups: number; stats: unknown[] }> {
  const buf = readFileSync(join(dataDir, 'index', 'pins.parquet'))
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)
  const meta = parquetMetadata(file)
  const rows = (await parquetReadObjects({ file })) as unknown as PinIndexRow[]
  return {
    rows,
    groups: meta.row_groups.length,
    stats: meta.row_groups.map((g) => g.columns[0]?.meta_data?.statistics),
  }
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
    assert.equal(r.rows, 0)
    assert.deepEqual((await read(tmp.dir)).rows, [])
  })

  it('matches the database: one row per pin and backend, pins without replicas too, sorted by CID', async () => {
    const pins = new PinStore(db)
    const replicas = new ReplicaStore(db)
    db.transaction(() => {
      for (let i = 0; i < 20_000; i++) {
        const cid = fakeCid((i * 7919) % 20_000)
        pins.add(cid, {
          name: `n${i}`,
          status: i % 10 === 0 ? 'queued' : 'pinned',
          policy: i % 3 === 0 ? { minReplicas: 2 } : {},
        })
        if (i % 10 !== 0) replicas.set(cid, 'local', 'verified')
        if (i % 4 === 0) replicas.set(cid, 'nas', 'copying')
      }
    })()
    const r = await publishPinIndex(tmp.dir)
    const { rows, groups, stats } = await read(tmp.dir)
    const expected = db
      .prepare('SELECT count(*) AS n FROM pins p LEFT JOIN replicas r ON r.cid = p.cid')
      .get() as { n: number }
    assert.equal(rows.length, expected.n)
    assert.equal(r.rows, expected.n)
    assert.equal(r.pins, 20_000)
    const sorted = [...rows].sort((a, b) => (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0))
    assert.deepEqual(
      rows.map((x) => x.cid),
      sorted.map((x) => x.cid),
    )
    assert.ok(groups > 4, `small row groups (${groups})`)
    assert.ok(
      stats.every((s) => s != null),
      'every row group carries cid statistics',
    )
    // pin 0: queued, with a copy on its way to nas; pin 10 (cid 19190): queued with no replica at all
    const row = (cid: string) =>
      rows.filter((x) => x.cid === cid).map((x) => [x.backend, x.state, x.status, x.min_replicas])
    assert.deepEqual(row(fakeCid(0)), [['nas', 'copying', 'queued', 2]])
    assert.deepEqual(row(fakeCid(19190)), [[null, 'queued', 'queued', null]])
    assert.deepEqual(row(fakeCid(7919)), [['local', 'verified', 'pinned', null]])
    assert.deepEqual(readdirSync(join(tmp.dir, 'index')), ['pins.parquet'], 'no temp file remains')
  })

  it('never shows a reader a partial file while publishes run', async () => {
    const publisher = new PinIndexPublisher(tmp.dir, { debounceMs: 1 })
    let reads = 0
    let publishing = true
    const reader = (async () => {
      while (publishing) {
        await read(tmp.dir)
        reads++
        await new Promise((r) => setImmediate(r))
      }
    })()
    for (let i = 0; i < 20; i++) await publisher.flush()
    publishing = false
    await reader
    await publisher.close()
    assert.ok(reads > 0)
  })
})
