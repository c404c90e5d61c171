import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { suiteTempDir } from '../../test/helpers/cli.ts'
import { PackIndex } from './pack-index.ts'

const entry = (i: number) => ({
  mh: Buffer.from([0x12, 0x20, ...Buffer.alloc(32, i)]),
  cid: Buffer.from([0x01, 0x55, 0x12, 0x20, ...Buffer.alloc(32, i)]),
  pack: 1,
  offset: i * 100,
  length: 100 + i,
})

describe('block totals', () => {
  const tmp = suiteTempDir()

  it('follow every insert and delete without scanning, and count an older index once', () => {
    const path = join(tmp.dir, 'index.db')
    const index = new PackIndex(path)
    index.record([entry(1), entry(2), entry(3), entry(3)]) // the duplicate is ignored
    index.delete(entry(2).mh)
    assert.deepEqual(index.totals(), index.count())
    assert.deepEqual(index.totals(), { blocks: 2, bytes: 101 + 103 })
    index.close()
    // an index made before the totals existed: no triggers, no totals
    const raw = new Database(path)
    raw.exec(
      "DROP TRIGGER blocks_total_insert; DROP TRIGGER blocks_total_delete; DELETE FROM meta WHERE key IN ('blocks', 'block_bytes')",
    )
    raw
      .prepare('INSERT INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)')
      .run(...Object.values(entry(4)))
    raw.close()
    const reopened = new PackIndex(path)
    assert.deepEqual(reopened.totals(), { blocks: 3, bytes: 101 + 103 + 104 })
    reopened.record([entry(5)])
    assert.deepEqual(reopened.totals(), reopened.count())
    reopened.close()
  })
})
