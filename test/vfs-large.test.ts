/**
 * A large VFS write streams: a 320 MiB file goes in and comes back byte-identical while the writer
 * process's peak RSS grows by well under the file's size (the blockstore writer keeps at most
 * 64 MiB in flight; the DagModifier buffers 2 MiB). Runs in a child process so that the peak RSS
 * measured is the write's alone.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { tempDir } from './helpers/cli.ts'

const SRC = new URL('../src/', import.meta.url).pathname
const SIZE = 320 << 20
/** Growth of peak RSS allowed: less than the file, so the file can never have been held whole. */
const MAX_GROWTH_MIB = 256

const SCRIPT = `
import { createCipheriv, createHash } from 'node:crypto'
import { Repo } from '${SRC}repo.ts'
import { Vfs } from '${SRC}vfs/index.ts'
const [home, size] = [process.argv[2], Number(process.argv[3])]
const repo = Repo.open(home)
const vfs = await Vfs.open(repo)
const hashIn = createHash('sha256')
async function* source() {
  const cipher = createCipheriv('aes-256-ctr', Buffer.alloc(32, 1), Buffer.alloc(16))
  const zeros = Buffer.alloc(1 << 20)
  for (let left = size; left > 0; left -= zeros.length) {
    const b = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
    hashIn.update(b)
    yield b
  }
}
const baseKiB = process.resourceUsage().maxRSS
const r = await vfs.write('/large.bin', source(), { create: true })
const hashOut = createHash('sha256')
let read = 0
for await (const part of vfs.read('/large.bin')) { hashOut.update(part); read += part.length }
const stat = await vfs.stat('/large.bin')
console.log(JSON.stringify({ size: r.size, statSize: stat.size, read, same: hashIn.digest('hex') === hashOut.digest('hex'), growthMiB: (process.resourceUsage().maxRSS - baseKiB) / 1024 }))
await vfs.close()
await repo.close()
`

let tmp: ReturnType<typeof tempDir>
before(() => {
  tmp = tempDir('ipfs-kit-vfs-large-')
})
after(() => tmp.cleanup())

describe('VFS large writes', () => {
  it('streams a 320 MiB write and read with bounded memory', async () => {
    const script = join(tmp.dir, 'large.mts')
    writeFileSync(script, SCRIPT)
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', script, join(tmp.dir, 'data'), String(SIZE)],
      { maxBuffer: 1 << 20 },
    )
    const r = JSON.parse(stdout.toString()) as {
      size: number
      statSize: number
      read: number
      same: boolean
      growthMiB: number
    }
    assert.equal(r.size, SIZE)
    assert.equal(r.statSize, SIZE)
    assert.equal(r.read, SIZE)
    assert.ok(r.same, 'the bytes read back differ from the bytes written')
    assert.ok(
      r.growthMiB < MAX_GROWTH_MIB,
      `peak RSS grew by ${r.growthMiB.toFixed(0)} MiB for a ${SIZE >> 20} MiB write`,
    )
  })
})
