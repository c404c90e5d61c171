/**
 * A VFS writer killed with SIGKILL mid-write leaves the previous root: every block the recorded
 * root reaches is present and hashes to its CID, `repo verify` is clean, and every write that was
 * acknowledged before the kill is in the tree. Writers run in child processes that write without
 * pause, so the kill lands inside a write (after some blocks, before the root is recorded).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { walkBlocks } from '../src/content/links.ts'
import { Repo } from '../src/repo.ts'
import { Vfs } from '../src/vfs/index.ts'
import { run, tempDir } from './helpers/cli.ts'

const SRC = new URL('../src/', import.meta.url).pathname

/** The writer: files of 1-3 MiB of fresh random bytes, one after another; prints "ok <i> <cid>" after each. */
const WRITER = `
import { randomBytes } from 'node:crypto'
import { Repo } from '${SRC}repo.ts'
import { Vfs } from '${SRC}vfs/index.ts'
const repo = Repo.open(process.argv[2])
const vfs = await Vfs.open(repo)
for (let i = 0; ; i++) {
  const r = await vfs.write('/crash/d' + (i % 3) + '/f' + i, randomBytes((1 + (i % 3)) << 20), { create: true, parents: true })
  process.stdout.write('ok ' + i + ' ' + r.cid + '\\n')
}
`

let tmp: ReturnType<typeof tempDir>
let script: string

before(() => {
  tmp = tempDir('ipfs-kit-vfs-crash-')
  script = join(tmp.dir, 'writer.mts')
  writeFileSync(script, WRITER)
})
after(() => tmp.cleanup())

/** Starts a writer, waits for `acks` acknowledged writes plus a little, kills it with SIGKILL. */
function writeThenKill(home: string, acks: number, extraMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, home], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const acked = new Map<string, string>()
    let buffered = ''
    let stderr = ''
    let killing = false
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        const [, i, cid] = line.split(' ')
        acked.set(`/crash/d${Number(i) % 3}/f${i}`, cid!)
      }
      if (!killing && acked.size >= acks) {
        killing = true
        setTimeout(() => child.kill('SIGKILL'), extraMs)
      }
    })
    child.on('error', reject)
    child.on('close', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited without being killed: ${stderr}`))
      else resolve(acked)
    })
  })
}

describe('VFS crash safety', () => {
  it('kill -9 during writes leaves a consistent previous root with every acknowledged write', async () => {
    const home = join(tmp.dir, 'data')
    // several rounds on the same data directory, killed at different moments of a write
    for (const [round, extraMs] of [0, 7, 23, 61].entries()) {
      const acked = await writeThenKill(home, 2 + round, extraMs)
      const repo = Repo.open(home)
      const vfs = await Vfs.open(repo)
      try {
        const root = vfs.root()
        let blocks = 0
        // every block under the root is present and re-hashes to its CID
        for await (const _ of walkBlocks(repo.blocks, root, { verify: true })) blocks++
        assert.ok(blocks > 0)
        for (const [path, cid] of acked) {
          const s = await vfs.stat(path)
          assert.equal(s.cid.toString(), cid, `round ${round}: acknowledged ${path} is missing or changed`)
        }
        // and the tree is still writable after the crash
        await vfs.write(`/after-crash-${round}`, Buffer.from('alive'), { create: true })
      } finally {
        await vfs.close()
        await repo.close()
      }
      const verify = await run(['repo', 'verify'], { home })
      assert.equal(verify.code, 0, `round ${round}: repo verify: ${verify.stdout}${verify.stderr}`)
    }
  })
})
