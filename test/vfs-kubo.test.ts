/**
 * The VFS must give the root CID Kubo's `ipfs files` (MFS) gives after the same operations. Kubo
 * 0.41 runs strictly offline on its own temp repo; after every step both roots are compared.
 * `files write` builds trickle DAGs through boxo's DagModifier (a 2 MiB write buffer, in-place
 * overwrites, 4 KiB zero padding past the end), so writes of several chunks, appends, overwrites,
 * sparse writes and truncates are each checked, with CIDv0, CIDv1 and --raw-leaves.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { add } from '../src/content/add.ts'
import { Repo } from '../src/repo.ts'
import { Vfs } from '../src/vfs/index.ts'
import { run, tempDir } from './helpers/cli.ts'
import { KUBO_BIN, requireKubo, writeSeededFile } from './helpers/kubo.ts'

const execFileAsync = promisify(execFile)
const CHUNK = 262_144

let tmp: ReturnType<typeof tempDir>
let kuboEnv: NodeJS.ProcessEnv
let repo: Repo
let vfs: Vfs

/** `ipfs files ARGS` on the offline Kubo repo: stdout, trimmed. */
async function kubo(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(KUBO_BIN, ['files', ...args], { env: kuboEnv, maxBuffer: 64 << 20 })
  return stdout.toString().trim()
}

function seeded(name: string, size: number): string {
  const path = join(tmp.dir, name)
  writeSeededFile(path, size, `vfs-kubo-${name}`)
  return path
}

async function assertSameRoot(step: string): Promise<void> {
  const theirs = await kubo('stat', '--hash', '/')
  assert.equal(vfs.root().toString(), theirs, `after ${step}: our root differs from Kubo's`)
}

before(async () => {
  requireKubo()
  tmp = tempDir('ipfs-kit-vfs-kubo-')
  kuboEnv = { ...process.env, IPFS_PATH: join(tmp.dir, 'kubo'), IPFS_TELEMETRY: 'off' }
  await execFileAsync(KUBO_BIN, ['init', '--profile', 'test', '--empty-repo'], { env: kuboEnv })
  repo = Repo.open(join(tmp.dir, 'kit'))
  vfs = await Vfs.open(repo)
})
after(async () => {
  await vfs?.close()
  await repo?.close()
  tmp?.cleanup()
})

describe('VFS root CIDs equal Kubo ipfs files', () => {
  it('starts from the empty MFS root', async () => {
    await assertSameRoot('init')
    assert.equal(vfs.root().toString(), 'QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn')
  })

  it('matches after a sequence of mkdir, write, append, overwrite, sparse write, truncate, mv, cp and rm', async () => {
    const small = seeded('small', 6)
    const a = seeded('a', 700_000)
    const b = seeded('b', 100_000)
    const c = seeded('c', 5_000_000)
    // more than 174 chunks: the trickle DAG grows subtrees and each 2 MiB flush refills the last one
    const big = seeded('big', 190 * CHUNK + 12_345)
    const bytes = (p: string) => readFileSync(p)
    type Step = [label: string, ours: () => Promise<unknown>, kubo: string[]]
    const steps: Step[] = [
      ['mkdir -p', () => vfs.mkdir('/docs/deep/er', { parents: true }), ['mkdir', '-p', '/docs/deep/er']],
      [
        'write small',
        () => vfs.write('/docs/small', bytes(small), { create: true }),
        ['write', '--create', '/docs/small', small],
      ],
      [
        'write 3 chunks',
        () => vfs.write('/docs/a', bytes(a), { create: true }),
        ['write', '--create', '/docs/a', a],
      ],
      [
        'append',
        () => vfs.write('/docs/a', bytes(b), { offset: 700_000 }),
        ['write', '--offset', '700000', '/docs/a', b],
      ],
      [
        'overwrite inside',
        () => vfs.write('/docs/a', bytes(b), { offset: 300_000 }),
        ['write', '--offset', '300000', '/docs/a', b],
      ],
      [
        'sparse',
        () => vfs.write('/docs/s', bytes(b), { create: true, offset: 1_000_000 }),
        ['write', '--create', '--offset', '1000000', '/docs/s', b],
      ],
      [
        'truncate',
        () => vfs.write('/docs/a', bytes(b), { truncate: true }),
        ['write', '--truncate', '/docs/a', b],
      ],
      [
        'write --cid-version 1 --parents',
        () => vfs.write('/v1/c', bytes(c), { create: true, parents: true, cidVersion: 1 }),
        ['write', '--create', '--parents', '--cid-version', '1', '/v1/c', c],
      ],
      [
        'append to v1',
        () => vfs.write('/v1/c', bytes(b), { offset: 5_000_000 }),
        ['write', '--offset', '5000000', '/v1/c', b],
      ],
      [
        'truncate v1',
        () => vfs.write('/v1/c', bytes(a), { truncate: true }),
        ['write', '--truncate', '/v1/c', a],
      ],
      [
        'small v1 (one raw block)',
        () => vfs.write('/v1/small', bytes(small), { create: true, cidVersion: 1 }),
        ['write', '--create', '--cid-version', '1', '/v1/small', small],
      ],
      [
        '--raw-leaves on v0',
        () => vfs.write('/rl', bytes(c), { create: true, rawLeaves: true }),
        ['write', '--create', '--raw-leaves', '/rl', c],
      ],
      [
        '--count',
        () => vfs.write('/cnt', bytes(c), { create: true, count: 1_234_567 }),
        ['write', '--create', '-n', '1234567', '/cnt', c],
      ],
      [
        '190 chunks',
        () => vfs.write('/big', bytes(big), { create: true }),
        ['write', '--create', '/big', big],
      ],
      [
        'append to 190 chunks',
        () => vfs.write('/big', bytes(c), { offset: 190 * CHUNK + 12_345 }),
        ['write', '--offset', String(190 * CHUNK + 12_345), '/big', c],
      ],
      ['mv into dir/', () => vfs.mv('/docs/a', '/docs/deep/'), ['mv', '/docs/a', '/docs/deep/']],
      ['mv rename', () => vfs.mv('/docs/s', '/docs/sparse'), ['mv', '/docs/s', '/docs/sparse']],
      ['mv onto a dir', () => vfs.mv('/cnt', '/docs'), ['mv', '/cnt', '/docs']],
      ['mv over a file', () => vfs.mv('/docs/small', '/docs/sparse'), ['mv', '/docs/small', '/docs/sparse']],
      ['cp a VFS dir', () => vfs.cp('/docs', '/copy'), ['cp', '/docs', '/copy']],
      ['rm -r', () => vfs.rm('/docs/deep', { recursive: true }), ['rm', '-r', '/docs/deep']],
      ['rm file', () => vfs.rm('/rl'), ['rm', '/rl']],
      [
        'mkdir --cid-version 1',
        () => vfs.mkdir('/n1/n2', { parents: true, cidVersion: 1 }),
        ['mkdir', '-p', '--cid-version', '1', '/n1/n2'],
      ],
      [
        'new file in a v1 dir is v0',
        () => vfs.write('/n1/n2/f', bytes(b), { create: true }),
        ['write', '--create', '/n1/n2/f', b],
      ],
    ]
    for (const [label, ours, theirs] of steps) {
      await kubo(...theirs)
      await ours()
      await assertSameRoot(label)
    }
    // reading back gives the bytes written, through the same DAGs
    const parts: Uint8Array[] = []
    for await (const part of vfs.read('/v1/c')) parts.push(part)
    const got = Buffer.concat(parts)
    assert.deepEqual(got, bytes(a))
  })

  it('cp from /ipfs/<cid> links the existing DAG: same root as Kubo, no new data blocks', async () => {
    const f = seeded('added', 3 * CHUNK + 7)
    const { stdout } = await execFileAsync(KUBO_BIN, ['add', '--offline', '-Q', f], { env: kuboEnv })
    const added = await run(['ipfs', 'add', '-Q', f], { home: join(tmp.dir, 'kit') })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    assert.equal(cid, stdout.toString().trim())
    const before = repo.blocks.index.generation()
    const blocksBefore = [...repo.blocks.index.entries()].length
    await kubo('cp', `/ipfs/${cid}`, '/linked')
    await vfs.cp(`/ipfs/${cid}`, '/linked')
    await assertSameRoot('cp /ipfs/<cid>')
    const s = await vfs.stat('/linked')
    assert.equal(s.cid.toString(), cid)
    // only the directories above it were rewritten: one new block per level, no file data
    const newBlocks = [...repo.blocks.index.entries()].length - blocksBefore
    assert.ok(newBlocks <= 1, `cp wrote ${newBlocks} blocks (generation ${before})`)
  })

  it('the CLI writes stdin in any chunking to the same CID as Kubo', async () => {
    const f = seeded('cli', 4 * 1024 * 1024 + 99)
    const home = join(tmp.dir, 'kit')
    const r = await run(['vfs', 'write', '--create', '--parents', '/cli/stdin'], {
      home,
      input: readFileSync(f),
    })
    assert.equal(r.code, 0, r.stderr)
    const r2 = await run(['--json', 'vfs', 'write', '--create', '/cli/file', f], { home })
    assert.equal(r2.code, 0, r2.stderr)
    await kubo('write', '--create', '--parents', '/cli/stdin', f)
    await kubo('write', '--create', '/cli/file', f)
    const stat = await run(['vfs', 'stat', '--hash', '/cli/stdin'], { home })
    assert.equal(stat.stdout.toString().trim(), await kubo('stat', '--hash', '/cli/stdin'))
    assert.equal(JSON.parse(r2.stdout.toString()).Hash, await kubo('stat', '--hash', '/cli/file'))
    assert.equal(vfs.root().toString(), await kubo('stat', '--hash', '/'))
  })

  it('edits single raw blocks and files that came from ipfs add (balanced DAGs) as Kubo does', async () => {
    const tiny = seeded('tiny', 10)
    const b = seeded('b2', 100_000)
    const c = seeded('c2', 3_000_000)
    const mid = seeded('mid', 700_000)
    const kuboAdd = async (args: string[]) =>
      (await execFileAsync(KUBO_BIN, ['add', '--offline', '-Q', ...args], { env: kuboEnv })).stdout
        .toString()
        .trim()
    const added = {
      small: await kuboAdd([tiny]),
      mid: await kuboAdd([mid]),
      mid1: await kuboAdd(['--cid-version', '1', mid]),
    }
    const ours = [
      ...(await add(repo, { paths: [tiny] })),
      ...(await add(repo, { paths: [mid] })),
      ...(await add(repo, { paths: [mid] }, { cidVersion: 1 })),
    ].map((e) => e.cid.toString())
    assert.deepEqual(ours, [added.small, added.mid, added.mid1])
    const bytes = (p: string) => readFileSync(p)
    type Step = [label: string, ours: () => Promise<unknown>, kubo: string[]]
    const steps: Step[] = [
      [
        'cp an added one-block file',
        () => vfs.cp(`/ipfs/${added.small}`, '/as'),
        ['cp', `/ipfs/${added.small}`, '/as'],
      ],
      [
        'append to it',
        () => vfs.write('/as', bytes(b), { offset: 10 }),
        ['write', '--offset', '10', '/as', b],
      ],
      [
        'cp an added balanced file',
        () => vfs.cp(`/ipfs/${added.mid}`, '/am'),
        ['cp', `/ipfs/${added.mid}`, '/am'],
      ],
      [
        'append to it',
        () => vfs.write('/am', bytes(c), { offset: 700_000 }),
        ['write', '--offset', '700000', '/am', c],
      ],
      [
        'overwrite inside it',
        () => vfs.write('/am', bytes(b), { offset: 100 }),
        ['write', '--offset', '100', '/am', b],
      ],
      [
        'cp an added v1 file',
        () => vfs.cp(`/ipfs/${added.mid1}`, '/am1'),
        ['cp', `/ipfs/${added.mid1}`, '/am1'],
      ],
      [
        'truncate it',
        () => vfs.write('/am1', bytes(b), { truncate: true }),
        ['write', '--truncate', '/am1', b],
      ],
      [
        'a v1 file of one raw block',
        () => vfs.write('/t1', bytes(tiny), { create: true, cidVersion: 1 }),
        ['write', '--create', '--cid-version', '1', '/t1', tiny],
      ],
      [
        'append to the raw block',
        () => vfs.write('/t1', bytes(b), { offset: 10 }),
        ['write', '--offset', '10', '/t1', b],
      ],
      [
        'another raw block',
        () => vfs.write('/t2', bytes(tiny), { create: true, cidVersion: 1 }),
        ['write', '--create', '--cid-version', '1', '/t2', tiny],
      ],
      [
        'overwrite inside it',
        () => vfs.write('/t2', bytes(tiny), { offset: 3, count: 4 }),
        ['write', '--offset', '3', '-n', '4', '/t2', tiny],
      ],
      [
        'truncate it',
        () => vfs.write('/t2', bytes(tiny), { truncate: true, count: 2 }),
        ['write', '--truncate', '-n', '2', '/t2', tiny],
      ],
      [
        'write far past its end',
        () => vfs.write('/t2', bytes(tiny), { offset: 5000 }),
        ['write', '--offset', '5000', '/t2', tiny],
      ],
    ]
    for (const [label, ours, theirs] of steps) {
      await kubo(...theirs)
      await ours()
      await assertSameRoot(label)
    }
  })

  it('shards a directory past 256 KiB of links and unshards it below, as Kubo does, with sub-shards', async () => {
    await kubo('write', '--create', '/e', seeded('empty', 0))
    const empty = await vfs.write('/e', new Uint8Array(0), { create: true })
    await assertSameRoot('empty file')
    // 1120 entries of 200-byte names: 262,080 bytes of links, 64 short of the threshold
    const names = Array.from({ length: 1120 }, (_, i) => `${String(i).padStart(5, '0')}${'n'.repeat(195)}`)
    const bytes = dagPb.encode({
      Data: Uint8Array.of(8, 1),
      Links: names.map((Name) => ({ Name, Hash: empty.cid, Tsize: 4 })),
    })
    const wide = CID.createV0(await sha256.digest(bytes))
    await repo.blocks.put(wide, bytes)
    await putKuboBlock(bytes)
    const [x, yy] = [seeded('x', 1), seeded('yy', 2)]
    type Step = [label: string, ours: () => Promise<unknown>, kubo: string[]]
    const steps: Step[] = [
      ['cp the wide directory', () => vfs.cp(`/ipfs/${wide}`, '/wide'), ['cp', `/ipfs/${wide}`, '/wide']],
      [
        'one entry more: sharded',
        () => vfs.cp('/e', `/wide/${'z'.repeat(200)}`),
        ['cp', '/e', `/wide/${'z'.repeat(200)}`],
      ],
      [
        'a file written inside the shard',
        () => vfs.write('/wide/sub/f', readFileSync(x), { create: true, parents: true }),
        ['write', '--create', '--parents', '/wide/sub/f', x],
      ],
      [
        'replace inside the shard',
        () => vfs.write('/wide/sub/f', readFileSync(yy), { truncate: true }),
        ['write', '--truncate', '/wide/sub/f', yy],
      ],
      ['rm inside the shard', () => vfs.rm(`/wide/${names[7]}`), ['rm', `/wide/${names[7]}`]],
      [
        'mv inside the shard',
        () => vfs.mv(`/wide/${names[8]}`, '/wide/moved'),
        ['mv', `/wide/${names[8]}`, '/wide/moved'],
      ],
      [
        'rm down to the threshold: plain again',
        () => vfs.rm(`/wide/${'z'.repeat(200)}`),
        ['rm', `/wide/${'z'.repeat(200)}`],
      ],
    ]
    for (const [label, ours, theirs] of steps) {
      await kubo(...theirs)
      await ours()
      await assertSameRoot(label)
    }
    // the directory's type follows Kubo's: sharded after the 1121st entry, plain again after the rm
    assert.equal((await vfs.stat('/wide')).cid.toString(), await kubo('stat', '--hash', '/wide'))
    for (let i = 0; i < 12; i++) {
      const name = `${'w'.repeat(200)}${i}`
      await kubo('cp', '/e', `/wide/${name}`)
      await vfs.cp('/e', `/wide/${name}`)
    }
    await assertSameRoot('12 entries added')
    for (let i = 0; i < 12; i += 2) {
      await kubo('rm', `/wide/${'w'.repeat(200)}${i}`)
      await vfs.rm(`/wide/${'w'.repeat(200)}${i}`)
    }
    await assertSameRoot('6 entries removed')
  })
})

/** `ipfs block put` of a dag-pb block into the Kubo repo. */
async function putKuboBlock(bytes: Uint8Array): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile(KUBO_BIN, ['block', 'put', '--format', 'v0'], { env: kuboEnv }, (err) =>
      err == null ? resolve() : reject(err),
    )
    child.stdin?.end(bytes)
  })
}
