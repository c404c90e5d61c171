import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { run, suiteTempDir } from './helpers/cli.ts'

describe('many processes on one new data directory', () => {
  const tmp = suiteTempDir()

  it('16 `ipfs add`s started at once on a new directory all succeed, and every pin is recorded', async () => {
    // repeat on fresh directories: the race is in the first open of state.db and blocks/index.db
    for (let round = 0; round < 3; round++) {
      const home = join(tmp.dir, `new-${round}`)
      const results = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          run(['ipfs', 'add', '-Q'], { home, input: `round ${round}, content ${i}\n` }),
        ),
      )
      const failures = results.filter((r) => r.code !== 0).map((r) => r.stderr.trim())
      assert.deepEqual(failures, [], `round ${round}: ${failures.length} of 16 failed`)
      const cids = results.map((r) => r.stdout.toString().trim())
      assert.equal(new Set(cids).size, 16)
      const db = new Database(join(home, 'state.db'), { readonly: true })
      try {
        const pinned = db.prepare('SELECT cid FROM pins').all() as { cid: string }[]
        assert.deepEqual(pinned.map((p) => p.cid).sort(), [...cids].sort())
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      } finally {
        db.close()
      }
    }
  })
})
