/**
 * The VFS as a user meets it: Kubo-like errors with stable codes, reads with offset and length,
 * a root that survives reopening, gc that keeps what the VFS reaches, concurrent writers that never
 * lose each other's change, and paths that can never leave the root.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { gc } from '../src/content/gc.ts'
import { Repo } from '../src/repo.ts'
import { Vfs } from '../src/vfs/index.ts'
import { run, tempDir } from './helpers/cli.ts'

let tmp: ReturnType<typeof tempDir>
let home: string
let repo: Repo
let vfs: Vfs

before(async () => {
  tmp = tempDir('ipfs-kit-vfs-')
  home = join(tmp.dir, 'data')
  repo = Repo.open(home)
  vfs = await Vfs.open(repo)
})
after(async () => {
  await vfs?.close()
  await repo?.close()
  tmp?.cleanup()
})

async function bytes(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function text(source: AsyncIterable<Uint8Array>): Promise<string> {
  return (await bytes(source)).toString()
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error & { code?: string }) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`)
    if (message != null) assert.match(err.message, message)
    return true
  })
}

describe('VFS operations', () => {
  it('writes, lists, stats and reads files with offset and length', async () => {
    await vfs.write('/notes/hello.txt', Buffer.from('hello world\n'), { create: true, parents: true })
    const entries = await vfs.ls('/notes')
    assert.deepEqual(
      entries.map((e) => [e.name, e.type, e.size]),
      [['hello.txt', 'file', 12]],
    )
    const s = await vfs.stat('/notes/hello.txt')
    assert.equal(s.type, 'file')
    assert.equal(s.size, 12)
    assert.equal(s.blocks, 1)
    assert.ok(s.cumulativeSize > 12)
    assert.equal((await vfs.stat('/notes')).type, 'directory')
    assert.equal(await text(vfs.read('/notes/hello.txt')), 'hello world\n')
    assert.equal(await text(vfs.read('/notes/hello.txt', { offset: 6, length: 5 })), 'world')
    assert.deepEqual(
      (await vfs.ls('/notes/hello.txt')).map((e) => e.name),
      ['hello.txt'],
    )
  })

  it('refuses what Kubo refuses, with stable codes, and changes nothing', async () => {
    const root = vfs.root().toString()
    await rejectsWith(vfs.write('/notes/missing', Buffer.from('x')), 'ERR_NOT_FOUND', /--create/)
    await rejectsWith(vfs.write('/nodir/f', Buffer.from('x'), { create: true }), 'ERR_NOT_FOUND', /--parents/)
    await rejectsWith(vfs.write('/notes', Buffer.from('x')), 'ERR_VFS_TYPE', /directory/)
    await rejectsWith(vfs.write('/notes/hello.txt/x', Buffer.from('x'), { create: true }), 'ERR_VFS_TYPE')
    await rejectsWith(vfs.mkdir('/notes'), 'ERR_EXISTS')
    await rejectsWith(vfs.mkdir('/notes/hello.txt', { parents: true }), 'ERR_EXISTS')
    await rejectsWith(vfs.rm('/notes'), 'ERR_VFS_TYPE', /-r/)
    await rejectsWith(vfs.rm('/'), 'ERR_INVALID_INPUT')
    await rejectsWith(vfs.rm('/nothing'), 'ERR_NOT_FOUND')
    await rejectsWith(vfs.mv('/notes', '/notes/inside'), 'ERR_INVALID_INPUT', /into itself/)
    await rejectsWith(vfs.mv('/nothing', '/x'), 'ERR_NOT_FOUND')
    await rejectsWith(vfs.cp('/notes/hello.txt', '/notes/hello.txt'), 'ERR_EXISTS', /--force/)
    await rejectsWith(vfs.read('/notes').next(), 'ERR_VFS_TYPE')
    await rejectsWith(vfs.stat('/nothing'), 'ERR_NOT_FOUND')
    await rejectsWith(
      vfs.write('/bad', Buffer.from('x'), { create: true, cidVersion: 2 as 1 }),
      'ERR_INVALID_INPUT',
    )
    await vfs.mkdir('/notes', { parents: true })
    await vfs.rm('/nothing', { force: true })
    assert.equal(vfs.root().toString(), root)
  })

  it('cp from /ipfs/<cid> needs the root block stored locally and a UnixFS node', async () => {
    const missing = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
    await rejectsWith(vfs.cp(`/ipfs/${missing}`, '/hello'), 'ERR_NOT_FOUND', /not stored locally/)
    const bytes = dagCbor.encode({ hello: 'world' })
    const cbor = CID.createV1(dagCbor.code, await sha256.digest(bytes))
    await repo.blocks.put(cbor, bytes)
    await rejectsWith(vfs.cp(`/ipfs/${cbor}`, '/cbor'), 'ERR_INVALID_INPUT', /not UnixFS/)
    await rejectsWith(vfs.cp('/ipfs/not-a-cid', '/x'), 'ERR_INVALID_CID')
  })

  it('mv, cp --force and rm -r behave as ipfs files', async () => {
    await vfs.write('/a/one', Buffer.from('1'), { create: true, parents: true })
    await vfs.write('/a/two', Buffer.from('2'), { create: true })
    await vfs.mv('/a/one', '/a/uno')
    await vfs.mkdir('/b')
    await vfs.mv('/a/two', '/b')
    assert.deepEqual(
      (await vfs.ls('/b')).map((e) => e.name),
      ['two'],
    )
    await vfs.cp('/a', '/b/a-copy')
    await vfs.cp('/b/two', '/a/uno', { force: true })
    assert.equal(await text(vfs.read('/a/uno')), '2')
    assert.equal(await text(vfs.read('/b/a-copy/uno')), '1')
    await vfs.rm('/b', { recursive: true })
    await rejectsWith(vfs.stat('/b'), 'ERR_NOT_FOUND')
  })

  it('keeps its root across reopening, and gc keeps every block the root reaches', async () => {
    const keep = randomBytes(600_000)
    await vfs.write('/keep/data.bin', keep, { create: true, parents: true })
    await vfs.write('/drop/data.bin', randomBytes(700_000), { create: true, parents: true })
    const root = vfs.root()
    const other = await Vfs.open(repo)
    assert.equal(other.root().toString(), root.toString())
    await other.close()
    await vfs.rm('/drop', { recursive: true })
    const result = await gc(repo)
    assert.ok(result.removedBytes >= 700_000, `gc freed ${result.removedBytes} bytes`)
    assert.deepEqual(result.damaged, [])
    assert.deepEqual(await bytes(vfs.read('/keep/data.bin')), keep)
    const verify = await run(['repo', 'verify'], { home })
    assert.equal(verify.code, 0, verify.stderr)
  })

  it('serialises writers in one process: every concurrent write lands', async () => {
    await vfs.mkdir('/many')
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        vfs.write(`/many/f${i}`, Buffer.from(`file ${i}`), { create: true }),
      ),
    )
    const names = (await vfs.ls('/many')).map((e) => e.name).sort()
    assert.equal(names.length, 12)
    assert.equal(await text(vfs.read('/many/f7')), 'file 7')
  })

  it('a second writer waits for the lock without blocking the event loop, then ERR_BUSY past its deadline', async () => {
    const other = await Vfs.open(repo, { lockTimeoutMs: 300 })
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    let started: () => void = () => {}
    const inside = new Promise<void>((r) => {
      started = r
    })
    async function* slow(): AsyncGenerator<Uint8Array> {
      started() // the write pulls its input only once it holds the lock
      yield Buffer.from('first half, ')
      await gate
      yield Buffer.from('second half')
    }
    // the first write holds the VFS lock while its input trickles in
    const first = vfs.write('/locked.txt', slow(), { create: true })
    await inside
    await rejectsWith(other.mkdir('/waited'), 'ERR_BUSY', /try again/)
    const second = Vfs.open(repo, { lockTimeoutMs: 30_000 }).then(async (v) => {
      try {
        await v.mkdir('/after-lock')
      } finally {
        await v.close()
      }
    })
    release()
    await Promise.all([first, second])
    await other.close()
    assert.equal(await text(vfs.read('/locked.txt')), 'first half, second half')
    assert.equal((await vfs.stat('/after-lock')).type, 'directory')
  })

  it('serialises writers across processes: two CLIs writing at once lose nothing', async () => {
    const writer = (tag: string) =>
      new Promise<number | null>((resolve) => {
        const script = Array.from(
          { length: 8 },
          (_, i) =>
            `echo ${tag}${i} | node ${JSON.stringify(BIN)} vfs write --create --parents /shared/${tag}${i}`,
        ).join(' && ')
        const child = spawn('sh', ['-c', script], {
          env: { ...process.env, IPFS_KIT_HOME: home },
          stdio: 'ignore',
        })
        child.on('close', resolve)
      })
    const codes = await Promise.all([writer('x'), writer('y')])
    assert.deepEqual(codes, [0, 0])
    const names = (await vfs.ls('/shared')).map((e) => e.name).sort()
    assert.deepEqual(names, [
      ...Array.from({ length: 8 }, (_, i) => `x${i}`),
      ...Array.from({ length: 8 }, (_, i) => `y${i}`),
    ])
    assert.equal(await text(vfs.read('/shared/y3')), 'y3\n')
  })
})

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname

describe('VFS paths can never leave the root', () => {
  const BAD = [
    '',
    'relative/path',
    '../escape',
    '/..',
    '/a/../../etc/passwd',
    '/./a',
    '/a/%2e%2e/b',
    '/a%2Fb',
    '/a%2fb',
    '/a\\..\\b',
    '/a\u0000b',
    '/a\nb',
    `/${'x'.repeat(256)}`,
  ]

  it('refuses traversal in every verb with ERR_INVALID_INPUT, touching nothing inside or outside', async () => {
    const sentinel = join(tmp.dir, 'outside.txt')
    writeFileSync(sentinel, 'untouched')
    const outsideBefore = readdirSync(tmp.dir).sort()
    const sentinelMtime = statSync(sentinel).mtimeMs
    const root = vfs.root().toString()
    for (const p of BAD) {
      const label = JSON.stringify(p)
      const attempts: [string, () => Promise<unknown>][] = [
        ['write', () => vfs.write(p, Buffer.from('pwned'), { create: true, parents: true })],
        ['mkdir', () => vfs.mkdir(p, { parents: true })],
        ['rm', () => vfs.rm(p, { recursive: true, force: true })],
        ['mv from', () => vfs.mv(p, '/x')],
        ['mv to', () => vfs.mv('/notes', p)],
        ['cp from', () => vfs.cp(p, '/x')],
        ['cp to', () => vfs.cp('/notes', p)],
        ['stat', () => vfs.stat(p)],
        ['ls', () => vfs.ls(p)],
        ['read', () => vfs.read(p).next()],
      ]
      for (const [verb, attempt] of attempts) {
        await assert.rejects(attempt(), (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_INVALID_INPUT', `${verb} ${label}: ${err.message}`)
          return true
        })
      }
    }
    assert.equal(vfs.root().toString(), root)
    assert.deepEqual(readdirSync(tmp.dir).sort(), outsideBefore)
    assert.equal(readFileSync(sentinel, 'utf8'), 'untouched')
    assert.equal(statSync(sentinel).mtimeMs, sentinelMtime)
  })

  it('the CLI refuses them with exit code 2 and one clear line', async () => {
    const r = await run(['vfs', 'write', '--create', '/a/../../outside.txt'], { home, input: 'pwned' })
    assert.equal(r.code, 2)
    assert.match(
      r.stderr,
      /^Error: invalid VFS path "\/a\/..\/..\/outside.txt": "." and ".." are not allowed\n$/,
    )
    const r2 = await run(['vfs', 'read', 'etc/passwd'], { home })
    assert.equal(r2.code, 2)
    assert.match(r2.stderr, /absolute/)
  })
})
