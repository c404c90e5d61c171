/**
 * `ipfs-kit ipfs add` must print exactly the CIDs that Kubo's `ipfs add` prints for the same input
 * and flags. This file proves it against a real Kubo binary (scripts/install-kubo.sh builds it),
 * run strictly offline, and against Debian's independent `ipfs_cid` (package ipfs-cid). Every
 * input is generated here from a seed; nothing is checked in. A missing tool fails the test with
 * the command that installs it; nothing is skipped.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { run, tempDir } from './helpers/cli.ts'
import { findIpfsCid, ipfsCid, KUBO_BIN, KuboRepo, requireKubo, writeSeededFile } from './helpers/kubo.ts'

const CHUNK = 262_144
/** Both sides of every chunk and tree-width boundary: 174 leaves fill one node, 175 need a second level. */
const SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 174 * CHUNK, 174 * CHUNK + 1, 175 * CHUNK]
/** Kubo's published vector: its README's `echo "hello world" > hello; ipfs add hello` (12 bytes). */
const HELLO_WORLD_V0 = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'

/** One import, spelled by each CLI: our `--no-raw-leaves` is Kubo's `--raw-leaves=false`. */
type FlagSet = { label: string; ours: string[]; kubo: string[] }
const FILE_FLAG_SETS: FlagSet[] = [
  { label: 'v0 defaults', ours: [], kubo: [] },
  { label: '--cid-version 1', ours: ['--cid-version', '1'], kubo: ['--cid-version', '1'] },
  { label: 'v0 --raw-leaves', ours: ['--raw-leaves'], kubo: ['--raw-leaves'] },
  {
    label: 'v1 without raw leaves',
    ours: ['--cid-version', '1', '--no-raw-leaves'],
    kubo: ['--cid-version', '1', '--raw-leaves=false'],
  },
]

let tmp: ReturnType<typeof tempDir>
let home: string
const files = new Map<number, string>()

before(() => {
  tmp = tempDir('ipfs-kit-kubo-cids-')
  home = join(tmp.dir, 'kit-home')
})
after(() => tmp.cleanup())

/** A seeded file of `size` bytes, written once and shared by every test that needs that size. */
function fileOf(size: number): string {
  let path = files.get(size)
  if (path == null) {
    path = join(tmp.dir, `seeded-${size}.bin`)
    writeSeededFile(path, size, `kubo-cids-${size}`)
    files.set(size, path)
  }
  return path
}

/** `ipfs-kit ipfs add ARGS`: stdout, trimmed; a non-zero exit fails with its stderr. */
async function ours(args: string[], cwd?: string): Promise<string> {
  const r = await run(['ipfs', 'add', ...args], { home, cwd })
  assert.equal(r.code, 0, `ipfs-kit ipfs add ${args.join(' ')}: ${r.stderr}`)
  return r.stdout.toString().trim()
}

/** Writes `count` tiny files named by `name(i)` into a new directory. */
function writeFlatDir(dir: string, count: number, name: (i: number) => string): void {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) writeFileSync(join(dir, name(i)), `${i}`)
}

/** A name of exactly `len` ASCII bytes, unique per `i`, sorting after `prefix`. */
function fixedName(prefix: string, i: number, len: number): string {
  const head = `${prefix}${String(i).padStart(5, '0')}-`
  return head + 'x'.repeat(len - head.length)
}

describe("Kubo's published vector (no Kubo binary needed)", () => {
  it("printf 'hello world\\n' is QmT78zSu... from stdin and from a file", async () => {
    assert.equal(
      (await run(['ipfs', 'add', '-Q'], { home, input: 'hello world\n' })).stdout.toString().trim(),
      HELLO_WORLD_V0,
    )
    const file = join(tmp.dir, 'hello.txt')
    writeFileSync(file, 'hello world\n')
    assert.equal(await ours(['-Q', '-n', file]), HELLO_WORLD_V0)
    assert.equal(await ours(['-n', file]), `added ${HELLO_WORLD_V0} hello.txt`)
  })
})

describe('ipfs add prints the CIDs a real Kubo prints', () => {
  let kubo: KuboRepo | undefined
  before(() => {
    if (existsSync(KUBO_BIN)) kubo = new KuboRepo(join(tmp.dir, 'kubo-repo'))
  })
  /** Without Kubo every test fails with the fix (a failing hook would only mark them cancelled). */
  const needKubo = (): KuboRepo => {
    requireKubo()
    assert.ok(
      kubo != null,
      'Kubo was missing when this suite started, so it has no repo: run the tests again',
    )
    return kubo
  }

  /** Runs both CLIs with the same input (in parallel) and compares every output line, in order. */
  async function same(oursArgs: string[], kuboArgs: string[], what: string, cwd?: string): Promise<string[]> {
    const k = needKubo() // before ours starts, so that nothing is left running when it fails
    const [mine, theirs] = await Promise.all([ours(oursArgs, cwd), k.add(kuboArgs, cwd)])
    assert.deepEqual(mine.split('\n'), theirs.split('\n'), what)
    return theirs.split('\n')
  }

  it('uses Kubo from scripts/install-kubo.sh', (t) => {
    const version = needKubo().version()
    assert.match(version, /^ipfs version \d+\.\d+\.\d+/)
    t.diagnostic(version)
  })

  for (const size of SIZES) {
    for (const flags of FILE_FLAG_SETS) {
      it(`a ${size}-byte file, ${flags.label}`, async () => {
        const file = fileOf(size)
        await same(
          ['-Q', '-n', ...flags.ours, file],
          ['-Q', '-n', ...flags.kubo, file],
          `${size} B ${flags.label}`,
        )
      })
    }
  }

  // 100,000 bytes is 98 chunks of 1 KiB (one level); 200,000 is 196 chunks, past 174, so two levels.
  for (const size of [100_000, 200_000]) {
    for (const flags of FILE_FLAG_SETS) {
      it(`--chunker size-1024 on a ${size}-byte file, ${flags.label}`, async () => {
        const file = fileOf(size)
        const args = ['-Q', '-n', '--chunker', 'size-1024']
        await same([...args, ...flags.ours, file], [...args, ...flags.kubo, file], `size-1024 ${flags.label}`)
      })
    }
  }

  describe('a nested directory', () => {
    let tree: string
    before(() => {
      tree = join(tmp.dir, 'tree')
      mkdirSync(join(tree, 'sub', 'deeper', 'empty-too'), { recursive: true })
      mkdirSync(join(tree, 'empty'))
      mkdirSync(join(tree, '.hidden-dir'))
      writeFileSync(join(tree, 'a.txt'), 'alpha\n')
      writeFileSync(join(tree, '.hidden'), 'secret\n')
      writeFileSync(join(tree, '.hidden-dir', 'inside.txt'), 'inside a hidden dir\n')
      writeFileSync(join(tree, 'sub', 'naïve café.txt'), 'unicode\n')
      // U+FF46 sorts after U+1F600 in UTF-16 but before it in UTF-8 bytes, which is Kubo's order
      writeFileSync(join(tree, 'sub', 'ｆｕｌｌ.txt'), 'fullwidth\n')
      writeFileSync(join(tree, 'sub', '😀.txt'), 'emoji\n')
      writeFileSync(join(tree, 'sub', 'Ünïcödé dir name.txt'), 'more unicode\n')
      writeSeededFile(join(tree, 'sub', 'deeper', 'big.bin'), 3 * CHUNK + 17, 'tree-big')
      writeSeededFile(join(tree, 'zz-one-chunk.bin'), CHUNK, 'tree-one-chunk')
      symlinkSync('a.txt', join(tree, 'link-to-a'))
      symlinkSync('sub', join(tree, 'link-to-sub'))
      symlinkSync('no/such/target', join(tree, 'dangling-link'))
    })

    const cases: FlagSet[] = [
      { label: '-r (v0)', ours: ['-r'], kubo: ['-r'] },
      { label: '-r --cid-version 1', ours: ['-r', '--cid-version', '1'], kubo: ['-r', '--cid-version', '1'] },
      { label: '-r -H', ours: ['-r', '-H'], kubo: ['-r', '-H'] },
      {
        label: '-r -H --cid-version 1',
        ours: ['-r', '-H', '--cid-version', '1'],
        kubo: ['-r', '-H', '--cid-version', '1'],
      },
      { label: '-r --raw-leaves (v0)', ours: ['-r', '--raw-leaves'], kubo: ['-r', '--raw-leaves'] },
      {
        label: '-r --cid-version 1 without raw leaves',
        ours: ['-r', '--cid-version', '1', '--no-raw-leaves'],
        kubo: ['-r', '--cid-version', '1', '--raw-leaves=false'],
      },
    ]
    for (const c of cases) {
      it(`${c.label}: every line of -q, in Kubo's order`, async () => {
        await same(['-q', '-n', ...c.ours, tree], ['-q', '-n', ...c.kubo, tree], c.label)
      })
    }

    it('-r -H: the full "added CID path" lines, byte for byte', async () => {
      await same(['-n', '-r', '-H', tree], ['-n', '-r', '-H', tree], 'full output')
    })

    it('-r -H, stored for real (no -n) on both sides', async () => {
      await same(['-q', '-r', '-H', tree], ['-q', '-r', '-H', tree], 'stored add')
    })

    it("ipfs ls of the stored tree and of a subdirectory: Kubo's lines byte for byte (sizes of many widths, directories, symlinks, names in UTF-8 order)", async () => {
      const k = needKubo()
      const [root, theirRoot] = await Promise.all([
        ours(['-Q', '-r', '-H', tree]),
        k.add(['-Q', '-r', '-H', tree]),
      ])
      assert.equal(root, theirRoot)
      for (const path of [root, `/ipfs/${root}/sub`]) {
        const mine = await run(['ipfs', 'ls', path], { home })
        assert.equal(mine.code, 0, mine.stderr)
        assert.equal(mine.stdout.toString(), await k.ls([path]), path)
      }
    })

    it('path spellings: relative, ./tree, tree/ (names come from the last component)', async () => {
      for (const p of ['tree', './tree', 'tree/']) {
        await same(['-n', '-r', p], ['-n', '-r', p], p, tmp.dir)
      }
    })

    it('-w wraps two files in a directory (v0 and v1)', async () => {
      const a = join(tree, 'a.txt')
      const b = join(tree, 'zz-one-chunk.bin')
      await same(['-q', '-n', '-w', a, b], ['-q', '-n', '-w', a, b], '-w v0')
      await same(
        ['-q', '-n', '-w', '--cid-version', '1', a, b],
        ['-q', '-n', '-w', '--cid-version', '1', a, b],
        '-w v1',
      )
    })

    it('-w -r wraps a file and a directory', async () => {
      const a = join(tree, 'a.txt')
      const sub = join(tree, 'sub')
      await same(['-n', '-w', '-r', a, sub], ['-n', '-w', '-r', a, sub], '-w -r')
    })

    it('several arguments: Kubo prints them sorted by name, whatever their order', async () => {
      const [z, a, sub, empty] = ['zz-one-chunk.bin', 'a.txt', 'sub', 'empty'].map((n) => join(tree, n))
      await same(['-n', z!, a!], ['-n', z!, a!], 'two files')
      await same(['-n', '-w', z!, a!], ['-n', '-w', z!, a!], '-w two files')
      await same(['-n', '-r', sub!, empty!, z!], ['-n', '-r', sub!, empty!, z!], 'dirs and a file')
      await same(['-n', '-r', '-w', z!, sub!, a!], ['-n', '-r', '-w', z!, sub!, a!], '-w dirs and files')
    })

    it('a symlink given as an argument is added as a symlink, as Kubo does by default', async () => {
      const link = join(tree, 'link-to-a')
      await same(['-n', link], ['-n', link], 'link to a file')
      await same(
        ['-n', '-r', join(tree, 'link-to-sub')],
        ['-n', '-r', join(tree, 'link-to-sub')],
        'link to a dir',
      )
      await same(['-n', join(tree, 'dangling-link')], ['-n', join(tree, 'dangling-link')], 'dangling link')
      await same(
        ['-n', '-w', join(tree, 'a.txt'), link],
        ['-n', '-w', join(tree, 'a.txt'), link],
        '-w with a link',
      )
    })
  })

  describe('HAMT sharding (Kubo shards when name + CID bytes of the links exceed 256 KiB)', () => {
    // 5000 links of a 40-byte name + a 34- or 36-byte CID: about 370 KiB, well past the threshold.
    // Some entries are directories (nested, empty), whose CIDs must print right from inside a shard.
    let huge: string
    const edgeDir = (v: string, extra: number) => join(tmp.dir, `edge-v${v}-${extra}`)
    before(() => {
      // 1024 links of 256 bytes (name + CID) each, one name a byte longer with `extra`: see below
      for (const [v, cidBytes] of [
        ['0', 34],
        ['1', 36],
      ] as const) {
        for (const extra of [0, 1]) {
          const len = 256 - cidBytes
          writeFlatDir(edgeDir(v, extra), 1024, (i) => fixedName('f', i, i === 0 ? len + extra : len))
        }
      }
      huge = join(tmp.dir, 'huge')
      writeFlatDir(huge, 5000, (i) => `file-with-a-fairly-long-name-nr-${String(i).padStart(5, '0')}.txt`)
      mkdirSync(join(huge, 'dir-a', 'inner', 'innermost'), { recursive: true })
      mkdirSync(join(huge, 'dir-b-empty'))
      writeFileSync(join(huge, 'dir-a', 'inner', 'x.txt'), 'x\n')
      writeFileSync(join(huge, 'dir-a', 'inner', 'innermost', 'y.txt'), 'y\n')
      writeFileSync(join(huge, 'dir-c.txt'), 'a file among the directories\n')
    })
    for (const v of ['0', '1']) {
      it(`5000 entries and subdirectories, v${v}: every line of -q, and Kubo's root is a HAMT shard`, async () => {
        const args = ['-r', '-q', '--cid-version', v, huge]
        // ours only hashes; Kubo stores, so that its root block can be read back
        const theirs = await same(['-n', ...args], args, 'every line of -q')
        assert.equal(await needKubo().unixfsType(theirs.at(-1)!), 'hamt-sharded-directory')
      })
    }

    it("ipfs ls of the 5000-entry shard, stored on both sides: Kubo's lines byte for byte, and with --stream each line as Kubo aligns it", async () => {
      const k = needKubo()
      const args = ['-r', '-Q', '--cid-version', '1', huge]
      const [root, theirRoot] = await Promise.all([ours(args), k.add(args)])
      assert.equal(root, theirRoot)
      // sorted by name (a shard's links are in hash order), columns as wide as the widest cell
      const mine = await run(['ipfs', 'ls', root], { home })
      assert.equal(mine.code, 0, mine.stderr)
      const theirs = await k.ls([root])
      assert.equal(theirs.split('\n').length, 5003 + 1, 'every entry and a final newline')
      assert.equal(mine.stdout.toString(), theirs)
      // --stream: shard order, which Kubo walks concurrently, so compared as sets of lines
      const stream = await run(['ipfs', 'ls', '--stream', root], { home })
      assert.equal(stream.code, 0, stream.stderr)
      const sorted = (text: string) => text.split('\n').sort().join('\n')
      assert.equal(sorted(stream.stdout.toString()), sorted(await k.ls(['--stream', root])))
    })

    // The threshold is strict (size > 262144). With v0 every link here is name + 34 bytes, with v1
    // (raw leaves) name + 36; 1024 links of 256 bytes is exactly 262144: a plain directory. One
    // byte more in one name tips it into a shard.
    for (const v of ['0', '1']) {
      for (const extra of [0, 1]) {
        const expected = extra === 0 ? 'directory' : 'hamt-sharded-directory'
        it(`v${v}: links totalling 262144${extra ? ' + 1' : ''} bytes give a ${expected}`, async () => {
          const args = ['-r', '-q', '--cid-version', v, edgeDir(v, extra)]
          // ours only hashes; Kubo stores, so that its root block can be read back
          const theirs = await same(['-n', ...args], args, 'every line of -q')
          assert.equal(await needKubo().unixfsType(theirs.at(-1)!), expected)
        })
      }
    }

    it('-w around a sharded directory: every line of -q', async () => {
      const args = ['-r', '-q', '-w', edgeDir('0', 1), join(huge, 'dir-c.txt')]
      // ours only hashes; Kubo stores, so that its root block can be read back
      const theirs = await same(['-n', ...args], args, 'every line of -q')
      assert.equal(await needKubo().unixfsType(theirs.at(-2)!), 'hamt-sharded-directory')
    })

    // Kubo counts a subdirectory's link like any other (name + CID bytes). Here the files alone
    // come to 1023 * 256 = 261888 bytes and the subdirectory's link (257 bytes) tips it over, so
    // Kubo shards. The subdirectory sorts first or last: the importer counts a subdirectory only
    // while it is still empty, so the order in which add.ts hands it the entries matters.
    for (const [v, cidBytes] of [
      ['0', 34],
      ['1', 36],
    ] as const) {
      for (const where of ['first', 'last']) {
        it(`v${v}: a subdirectory's link counts towards the threshold (subdirectory sorted ${where})`, async () => {
          const dir = join(tmp.dir, `subdir-v${v}-${where}`)
          const len = 256 - cidBytes
          writeFlatDir(dir, 1023, (i) => fixedName('m', i, len))
          const sub = join(dir, fixedName(where === 'first' ? 'a' : 'z', 0, len + 1))
          mkdirSync(sub)
          writeFileSync(join(sub, 'inside.txt'), 'in the subdirectory\n')
          const args = ['-r', '-q', '--cid-version', v, dir]
          const theirs = await same(['-n', ...args], args, 'every line of -q')
          assert.equal(await needKubo().unixfsType(theirs.at(-1)!), 'hamt-sharded-directory')
        })
      }
    }
  })
})

/**
 * Debian's `ipfs_cid` (package ipfs-cid, Rust "rust_cid_npm", 2020) is an independent
 * implementation of Kubo's default file import. What it can check, found by trying it:
 * - it takes exactly one file path (no stdin; further arguments are ignored; there is no --help,
 *   which it reads as a file name, and no man page) and prints {"CIDv0": ..., "CIDv1": ...};
 * - its CIDv0 is Kubo's default: 256 KiB chunks, dag-pb leaves, balanced 174-wide DAG; it
 *   agrees at every size here, 0 bytes and multi-level trees included;
 * - its CIDv1 is the same root re-encoded as CIDv1 (same multihash). That is what Kubo gives with
 *   `--cid-version 1 --raw-leaves=false` only for single-block files (<= 262144 bytes); above that
 *   Kubo's v1 parents link to CIDv1 children, so the roots differ.
 * - it has no flags: no chunker, no raw leaves, no CIDv1 with raw leaves, no directories,
 *   no wrapping; those are covered by Kubo above.
 */
describe("Debian's independent ipfs_cid agrees with our file CIDs", () => {
  // checked in each test, so that a missing tool fails them all (a failing hook would cancel them)
  const needTool = (): string => {
    const found = findIpfsCid()
    assert.ok(found != null && found !== '', "Debian's ipfs_cid is not installed: apt-get install ipfs-cid")
    return found
  }
  for (const size of SIZES) {
    it(`a ${size}-byte file`, async () => {
      const file = fileOf(size)
      const theirs = ipfsCid(needTool(), file)
      assert.equal(await ours(['-Q', '-n', file]), theirs.CIDv0, 'CIDv0')
      assert.equal(
        theirs.CIDv1,
        CID.parse(theirs.CIDv0).toV1().toString(),
        'its CIDv1 is its CIDv0 re-encoded',
      )
      if (size <= CHUNK) {
        assert.equal(
          await ours(['-Q', '-n', '--cid-version', '1', '--no-raw-leaves', file]),
          theirs.CIDv1,
          'CIDv1',
        )
      }
    })
  }
})
