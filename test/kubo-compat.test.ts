import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { run, tempDir } from './helpers/cli.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

/** Kubo, built from the Go module proxy by scripts/install-kubo.sh (npm test's pretest step). */
const KUBO = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')
const CHUNK = 262_144

describe('CIDs identical to Kubo', () => {
  let tmp: ReturnType<typeof tempDir>
  let kuboRepo: string
  let home: string
  before(() => {
    assert.ok(existsSync(KUBO), `Kubo is not built at ${KUBO}: run scripts/install-kubo.sh`)
    tmp = tempDir()
    kuboRepo = join(tmp.dir, 'kubo')
    home = join(tmp.dir, 'kit')
    // offline, test profile: Kubo never touches the network here
    execFileSync(KUBO, ['init', '--profile', 'test', '--empty-repo'], {
      env: { ...process.env, IPFS_PATH: kuboRepo },
      stdio: 'ignore',
    })
  })
  after(() => tmp.cleanup())

  const kubo = (args: string[]): string =>
    execFileSync(KUBO, ['add', '--offline', ...args], { env: { ...process.env, IPFS_PATH: kuboRepo } })
      .toString()
      .trim()
  const ours = async (args: string[]): Promise<string> => {
    const r = await run(['ipfs', 'add', ...args], { home })
    assert.equal(r.code, 0, r.stderr)
    return r.stdout.toString().trim()
  }

  it("matches Kubo's published vector for hello world", async () => {
    const r = await run(['ipfs', 'add', '-Q'], { home, input: 'hello world\n' })
    assert.equal(r.stdout.toString().trim(), 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
  })

  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 174 * CHUNK, 174 * CHUNK + 1, 175 * CHUNK]
  const flagSets: [string, string[], string[]][] = [
    ['v0 (defaults)', [], []],
    ['--cid-version 1', ['--cid-version', '1'], ['--cid-version', '1']],
    ['v0 --raw-leaves', ['--raw-leaves'], ['--raw-leaves']],
    [
      'v1 without raw leaves',
      ['--cid-version', '1', '--no-raw-leaves'],
      ['--cid-version', '1', '--raw-leaves=false'],
    ],
  ]
  for (const size of sizes) {
    it(`a ${size}-byte file, with every flag set`, async () => {
      const file = join(tmp.dir, `f-${size}.bin`)
      if (!existsSync(file)) writeRandomFile(file, size, `kubo-${size}`)
      for (const [label, ourFlags, kuboFlags] of flagSets) {
        assert.equal(
          await ours(['-Q', '-n', ...ourFlags, file]),
          kubo(['-Q', '-n', ...kuboFlags, file]),
          `${size} bytes, ${label}`,
        )
      }
    })
  }

  it('custom chunk sizes (--chunker size-N)', async () => {
    const file = join(tmp.dir, 'chunky.bin')
    writeRandomFile(file, 100_000, 'chunker')
    for (const chunker of ['size-1024', 'size-65536', 'size-1048576']) {
      for (const v of ['0', '1']) {
        assert.equal(
          await ours(['-Q', '-n', '--chunker', chunker, '--cid-version', v, file]),
          kubo(['-Q', '-n', '--chunker', chunker, '--cid-version', v, file]),
          `${chunker} v${v}`,
        )
      }
    }
  })

  it('a nested directory (empty dir, hidden file, unicode names, symlink), every line of -q output', async () => {
    const dir = join(tmp.dir, 'tree')
    mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true })
    mkdirSync(join(dir, 'empty'))
    writeFileSync(join(dir, 'a.txt'), 'alpha\n')
    writeFileSync(join(dir, '.hidden'), 'secret\n')
    writeFileSync(join(dir, 'sub', 'naïve café.txt'), 'unicode\n')
    writeRandomFile(join(dir, 'sub', 'deeper', 'big.bin'), 3 * CHUNK + 17, 'deep')
    symlinkSync('a.txt', join(dir, 'link-to-a'))
    for (const [ourFlags, kuboFlags] of [
      [[], []],
      [
        ['--cid-version', '1'],
        ['--cid-version', '1'],
      ],
      [['-H'], ['-H']],
      [
        ['-H', '--cid-version', '1'],
        ['-H', '--cid-version', '1'],
      ],
    ]) {
      assert.deepEqual(
        (await ours(['-r', '-q', '-n', ...ourFlags!, dir])).split('\n'),
        kubo(['-r', '-q', '-n', ...kuboFlags!, dir]).split('\n'),
        `flags ${ourFlags!.join(' ')}`,
      )
    }
  })

  it('-w wraps two files in a directory', async () => {
    const a = join(tmp.dir, 'w1.txt')
    const b = join(tmp.dir, 'w2.txt')
    writeFileSync(a, 'one\n')
    writeFileSync(b, 'two\n')
    assert.deepEqual(
      (await ours(['-w', '-q', '-n', a, b])).split('\n'),
      kubo(['-w', '-q', '-n', a, b]).split('\n'),
    )
  })

  it('a directory big enough for Kubo to shard it (HAMT)', async () => {
    const dir = join(tmp.dir, 'huge')
    mkdirSync(dir)
    for (let i = 0; i < 5000; i++)
      writeFileSync(
        join(dir, `file-with-a-fairly-long-name-number-${String(i).padStart(5, '0')}.txt`),
        `${i}`,
      )
    for (const v of ['0', '1']) {
      assert.equal(
        await ours(['-r', '-Q', '-n', '--cid-version', v, dir]),
        kubo(['-r', '-Q', '-n', '--cid-version', v, dir]),
        `v${v}`,
      )
    }
  })
})

describe("CIDv0 of files against Debian's independent ipfs-cid", () => {
  it('agrees for files at the chunk boundaries', async () => {
    let tool = ''
    try {
      tool = execFileSync('sh', ['-c', 'command -v ipfs_cid']).toString().trim()
    } catch {}
    assert.ok(tool !== '', "Debian's ipfs-cid is not installed: apt-get install ipfs-cid")
    const tmp = tempDir()
    try {
      // ipfs_cid takes one file and prints {"CIDv0": ..., "CIDv1": ...} for Kubo's default import
      for (const size of [1, CHUNK - 1, CHUNK, CHUNK + 1, 174 * CHUNK, 175 * CHUNK]) {
        const file = join(tmp.dir, `c-${size}.bin`)
        writeRandomFile(file, size, `debian-${size}`)
        const theirs = JSON.parse(
          execFileSync(tool, [file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(),
        ) as {
          CIDv0: string
        }
        const mine = (await run(['ipfs', 'add', '-Q', '-n', file], { home: join(tmp.dir, 'h') })).stdout
          .toString()
          .trim()
        assert.equal(mine, theirs.CIDv0, `${size} bytes`)
      }
    } finally {
      tmp.cleanup()
    }
  })
})
