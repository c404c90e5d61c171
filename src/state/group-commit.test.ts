import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { suiteTempDir } from '../../test/helpers/cli.ts'
import { GroupCommit } from './group-commit.ts'
import { openSqlite } from './sqlite.ts'

describe('GroupCommit', () => {
  const tmp = suiteTempDir()

  it('commits the writes of one turn together, each durable and visible to another connection once its promise resolves; a failing write is undone alone', async () => {
    const path = join(tmp.dir, 'group.db')
    const db = openSqlite(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)')
    const other = openSqlite(path)
    const count = () => (other.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)')
    const group = new GroupCommit(db)

    const writes = Array.from({ length: 50 }, (_, i) =>
      group.run(() => {
        insert.run(i, `v${i}`)
        // the 8th also writes a row, then fails: its savepoint is rolled back, the others stand
        if (i === 7) {
          insert.run(1000, 'half of a failed write')
          throw new Error('write 7 fails')
        }
        return i
      }),
    )
    assert.equal(count(), 0, 'nothing is committed before the turn ends')
    const first = await writes[0]
    assert.equal(first, 0)
    assert.equal(count(), 49, 'the whole group is committed when the first promise resolves')
    const settled = await Promise.allSettled(writes)
    assert.deepEqual(
      settled.map((s) => s.status).filter((s) => s === 'rejected'),
      ['rejected'],
    )
    assert.match(String((settled[7] as PromiseRejectedResult).reason), /write 7 fails/)
    assert.equal(
      (other.prepare('SELECT count(*) AS n FROM t WHERE k IN (7, 1000)').get() as { n: number }).n,
      0,
    )

    // a write in a later turn makes a group of its own
    assert.equal(await group.run(() => insert.run(50, 'later').changes), 1)
    assert.equal(count(), 50)
    other.close()
    db.close()
  })
})
