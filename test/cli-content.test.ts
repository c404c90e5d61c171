import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { decodeNode } from '../src/content/node.ts'
import { Repo } from '../src/repo.ts'
import { BIN, run, suiteTempDir, tempDir } from './helpers/cli.ts'
import { sha256File, writeRandomFile, writeTree } from './helpers/fixtures.ts'

const MiB = 1 << 20

function lines(buf: Buffer): string[] {
  return buf.toString().trim().split('\n').filter(Boolean)
}

function listFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(relative(root, p))
    }
  }
  walk(root)
  return out.sort()
}

describe('ipfs add / cat / get round trips', () => {
  let tmp: ReturnType<typeof tempDir>
  let home: string
  before(() => {
    tmp = tempDir()
    home = join(tmp.dir, 'home')
  })
  after(() => tmp.cleanup())

  it('a 100 MiB file comes back byte-identical through cat and get', async () => {
    const file = join(tmp.dir, 'big.bin')
    writeRandomFile(file, 100 * MiB)
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const cat = await run(['ipfs', 'cat', cid], { home })
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(createHash('sha256').update(cat.stdout).digest('hex'), sha256File(file))
    const out = join(tmp.dir, 'big.out')
    const got = await run(['ipfs', 'get', cid, '-o', out], { home })
    assert.equal(got.code, 0, got.stderr)
    assert.equal(sha256File(out), sha256File(file))
  })

  it('a directory of 1,000 files comes back identical through get, and ls lists it', async () => {
    const src = join(tmp.dir, 'tree')
    writeTree(src, 1000)
    const added = await run(['ipfs', 'add', '-r', '-Q', src], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const out = join(tmp.dir, 'tree.out')
    const got = await run(['ipfs', 'get', cid, '-o', out], { home })
    assert.equal(got.code, 0, got.stderr)
    const files = listFiles(src)
    assert.equal(files.length, 1000)
    assert.deepEqual(listFiles(out), files)
    for (const f of files) assert.ok(readFileSync(join(src, f)).equals(readFileSync(join(out, f))), f)
    const ls = await run(['ipfs', 'ls', cid], { home })
    assert.deepEqual(
      lines(ls.stdout).map((l) => l.split(' ').at(-1)),
      ['d0/', 'd1/', 'd2/', 'd3/', 'd4/', 'd5/', 'd6/'],
    )
  })

  it('a HAMT-sharded directory of 4,000 files, with a subtree, a large file and a symlink, comes back identical through get', async () => {
    const src = join(tmp.dir, 'sharded')
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true })
    // link names and CIDs past 256 KiB make Kubo (and us) shard the directory
    for (let i = 0; i < 4000; i++)
      writeFileSync(join(src, `a-file-with-a-rather-long-name-${i}.txt`), `file ${i}\n`)
    writeFileSync(join(src, 'sub', 'deeper', 'x.txt'), 'deep\n')
    writeRandomFile(join(src, 'sub', 'big.bin'), 3 * MiB, 'sharded-big')
    symlinkSync('a-file-with-a-rather-long-name-7.txt', join(src, 'link'))
    const added = await run(['ipfs', 'add', '-r', '-Q', '--cid-version', '1', src], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const repo = Repo.open(home)
    try {
      const root = CID.parse(cid)
      assert.equal(decodeNode(root, repo.blocks.read(root)).kind, 'hamt', 'the root is a HAMT shard')
    } finally {
      await repo.close()
    }
    const out = join(tmp.dir, 'sharded.out')
    const got = await run(['ipfs', 'get', cid, '-o', out], { home })
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stderr.toString().trim(), `Saved 4003 file(s) to ${out}`)
    const files = listFiles(src)
    assert.equal(files.length, 4003)
    assert.deepEqual(listFiles(out), files)
    for (const f of files) assert.ok(readFileSync(join(src, f)).equals(readFileSync(join(out, f))), f)
    assert.equal(readlinkSync(join(out, 'link')), 'a-file-with-a-rather-long-name-7.txt')

    // ls lists every entry, the raw blocks (files) by what their links record, without reading them
    const ls = await run(['ipfs', 'ls', cid], { home })
    assert.equal(ls.code, 0, ls.stderr)
    const listed = lines(ls.stdout)
    assert.equal(listed.length, 4002)
    assert.ok(
      listed.some((l) => l.endsWith(' sub/')),
      'the subdirectory is listed as one',
    )
    const seven = listed.find((l) => l.endsWith(' a-file-with-a-rather-long-name-7.txt'))
    assert.equal(seven?.split(' ')[1], String('file 7\n'.length))

    // a reader that goes away (`| head -1`) ends ls quietly: status 0, nothing on stderr
    const piped = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${BIN}" ipfs ls ${cid} | head -1; exit \${PIPESTATUS[0]}`],
      { env: { ...process.env, IPFS_KIT_HOME: home } },
    )
    assert.equal(piped.stderr.toString(), '')
    assert.equal(piped.status, 0)
    assert.equal(lines(piped.stdout).length, 1)
  })

  it('cat honours --offset and --length across chunk boundaries', async () => {
    const file = join(tmp.dir, 'range.bin')
    writeRandomFile(file, 600_000, 'range')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const r = await run(['ipfs', 'cat', cid, '--offset', '262000', '--length', '1000'], { home })
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.equals(readFileSync(file).subarray(262000, 263000)))
  })

  it('stat reports size, type and blocks; --json carries the same facts', async () => {
    const file = join(tmp.dir, 'stat.bin')
    writeRandomFile(file, 600_000, 'stat')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    const text = lines((await run(['ipfs', 'stat', cid], { home })).stdout)
    assert.equal(text[0], cid)
    assert.ok(text.includes('Size: 600000'))
    assert.ok(text.includes('Type: file'))
    assert.ok(text.includes('Blocks: 4'), text.join('\n'))
    const json = JSON.parse((await run(['--json', 'ipfs', 'stat', cid], { home })).stdout.toString())
    assert.deepEqual([json.Hash, json.Size, json.Type, json.Blocks], [cid, 600000, 'file', 4])
  })

  it('add --json prints one object per entry, as Kubo --enc=json', async () => {
    const r = await run(['--json', 'ipfs', 'add'], { home, input: 'hello world\n' })
    assert.equal(r.code, 0, r.stderr)
    const obj = JSON.parse(r.stdout.toString())
    assert.equal(obj.Hash, 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
  })
})

describe('CAR export and import', () => {
  const tmp = suiteTempDir()

  it('a DAG exported as CAR and imported into a fresh data directory has identical CIDs and bytes', async () => {
    const a = join(tmp.dir, 'a')
    const b = join(tmp.dir, 'b')
    const src = join(tmp.dir, 'src')
    writeTree(src, 40)
    writeRandomFile(join(src, 'big.bin'), 3 * MiB, 'car')
    const cid = (await run(['ipfs', 'add', '-r', '-Q', '--cid-version', '1', src], { home: a })).stdout
      .toString()
      .trim()
    const car = join(tmp.dir, 'x.car')
    const exp = await run(['ipfs', 'dag', 'export', cid, '-o', car], { home: a })
    assert.equal(exp.code, 0, exp.stderr)
    const imp = await run(['ipfs', 'dag', 'import', car], { home: b })
    assert.equal(imp.code, 0, imp.stderr)
    assert.equal(imp.stdout.toString().trim(), `Pinned root ${cid} success`)
    const lsA = await run(['ipfs', 'ls', cid], { home: a })
    const lsB = await run(['ipfs', 'ls', cid], { home: b })
    assert.equal(lsB.stdout.toString(), lsA.stdout.toString())
    const out = join(tmp.dir, 'out')
    assert.equal((await run(['ipfs', 'get', cid, '-o', out], { home: b })).code, 0)
    assert.equal(sha256File(join(out, 'big.bin')), sha256File(join(src, 'big.bin')))
    // stdout export is byte-identical to the file export
    const viaStdout = await run(['ipfs', 'dag', 'export', cid], { home: b })
    assert.ok(viaStdout.stdout.equals(readFileSync(car)))
  })

  it('a truncated or corrupt CAR is refused with one clear line and nothing is stored', async () => {
    const a = join(tmp.dir, 'c')
    const file = join(tmp.dir, 'f.bin')
    writeRandomFile(file, 2 * MiB, 'corrupt')
    const cid = (await run(['ipfs', 'add', '-Q', file], { home: a })).stdout.toString().trim()
    const good = (await run(['ipfs', 'dag', 'export', cid], { home: a })).stdout
    const truncated = join(tmp.dir, 'trunc.car')
    writeFileSync(truncated, good.subarray(0, good.length - 1000))
    const corrupt = join(tmp.dir, 'corrupt.car')
    const flipped = Buffer.from(good)
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 5000) ^ 0xff, flipped.length - 5000)
    writeFileSync(corrupt, flipped)
    const garbage = join(tmp.dir, 'garbage.car')
    writeFileSync(garbage, 'this is not a car file')
    // the control: the intact export imports, so each refusal below is about the damage alone
    const intact = join(tmp.dir, 'intact.car')
    writeFileSync(intact, good)
    const ok = await run(['ipfs', 'dag', 'import', intact], { home: join(tmp.dir, 'fresh-intact') })
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.toString().trim(), `Pinned root ${cid} success`)
    for (const [file, pattern] of [
      [truncated, /truncated or malformed/],
      [corrupt, /does not match its CID|truncated or malformed/],
      [garbage, /not a valid CAR/],
      [join(tmp.dir, 'missing.car'), /cannot read/],
    ] as const) {
      const home = join(tmp.dir, `fresh-${relative(tmp.dir, file)}`)
      const r = await run(['ipfs', 'dag', 'import', file], { home })
      assert.equal(r.code, 1, `${file}: ${r.stderr}`)
      assert.match(r.stderr, pattern)
      assert.equal(lines(Buffer.from(r.stderr)).length, 1, r.stderr)
      const stat = JSON.parse((await run(['--json', 'repo', 'stat'], { home })).stdout.toString())
      assert.equal(stat.NumObjects, 0, `${file} left blocks behind`)
      assert.equal(stat.Pins, 0)
    }
  })
})

describe('bad input: one clear line, non-zero exit, nothing written', () => {
  let tmp: ReturnType<typeof tempDir>
  let home: string
  before(() => {
    tmp = tempDir()
    home = join(tmp.dir, 'home')
  })
  after(() => tmp.cleanup())

  const cases: [string, (dir: string) => string[], number, RegExp][] = [
    ['a missing file', (d) => ['ipfs', 'add', join(d, 'nope.txt')], 1, /no such file or directory/],
    ['a directory without -r', (d) => ['ipfs', 'add', d], 1, /is a directory: use -r/],
    ['an invalid CID', () => ['ipfs', 'cat', 'not-a-cid'], 2, /invalid CID "not-a-cid"/],
    [
      'a CID that is not stored',
      () => ['ipfs', 'cat', 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'],
      1,
      /is not stored locally/,
    ],
    ['an unsupported chunker', () => ['ipfs', 'add', '--chunker', 'rabin'], 2, /unsupported chunker/],
    ['a bad --cid-version', () => ['ipfs', 'add', '--cid-version', '7'], 2, /invalid --cid-version/],
    ['an unknown flag', () => ['ipfs', 'add', '--frobnicate'], 2, /unknown option/],
  ]
  for (const [name, args, code, pattern] of cases) {
    it(name, async () => {
      const src = join(tmp.dir, 'some-dir')
      mkdirSync(src, { recursive: true })
      const r = await run(args(src), { home, input: 'x' })
      assert.equal(r.code, code, r.stderr)
      assert.match(r.stderr, pattern)
      assert.equal(r.stdout.length, 0)
      if (existsSync(join(home, 'blocks'))) {
        const stat = JSON.parse((await run(['--json', 'repo', 'stat'], { home })).stdout.toString())
        assert.equal(stat.NumObjects, 0)
      }
    })
  }

  it('an unusable data directory', async () => {
    const notADir = join(tmp.dir, 'file-not-dir')
    writeFileSync(notADir, 'x')
    const r = await run(['ipfs', 'add'], { home: notADir, input: 'hello' })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^Error: data directory .* is not usable/)
    assert.equal(readFileSync(notADir, 'utf8'), 'x')
  })
})

describe('gc', () => {
  it('removes only unpinned blocks and reclaims their space', async () => {
    const tmp = tempDir()
    try {
      const home = join(tmp.dir, 'home')
      const keep = join(tmp.dir, 'keep.bin')
      const drop = join(tmp.dir, 'drop.bin')
      writeRandomFile(keep, 3 * MiB, 'keep')
      writeRandomFile(drop, 3 * MiB, 'drop')
      const kept = (await run(['ipfs', 'add', '-Q', keep], { home })).stdout.toString().trim()
      const dropped = (await run(['ipfs', 'add', '-Q', '--pin=false', drop], { home })).stdout
        .toString()
        .trim()
      const packBytes = () =>
        readdirSync(join(home, 'blocks', 'packs')).reduce(
          (n, f) => n + statSync(join(home, 'blocks', 'packs', f)).size,
          0,
        )
      const before = packBytes()
      const r = await run(['--json', 'gc'], { home })
      assert.equal(r.code, 0, r.stderr)
      const result = JSON.parse(r.stdout.toString())
      assert.equal(result.removedBlocks, 13)
      assert.ok(packBytes() < before - 3 * MiB, 'the dropped file’s bytes are reclaimed')
      assert.equal((await run(['ipfs', 'cat', dropped], { home })).code, 1)
      const cat = await run(['ipfs', 'cat', kept], { home })
      assert.ok(cat.stdout.equals(readFileSync(keep)))
      assert.equal((await run(['repo', 'verify'], { home })).code, 0)
    } finally {
      tmp.cleanup()
    }
  })
})
