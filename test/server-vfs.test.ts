import assert from 'node:assert/strict'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'
import { type Loose, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const OCTETS = { 'content-type': 'application/octet-stream' }

describe('/api/vfs: the mutable file tree over HTTP (daemon down: the VFS needs none)', () => {
  const tmp = suiteTempDir()
  let home: string
  let server: TestServer

  before(async () => {
    home = join(tmp.dir, 'home')
    writeConfig(home, {
      node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 5000 },
      server: { max_upload_size: 1024 * 1024 },
    })
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
  })

  const json = async (res: Response, status: number): Promise<Loose> => {
    const body = (await res.json()) as Loose
    assert.equal(res.status, status, JSON.stringify(body))
    return body
  }
  const write = (path: string, body: string | Uint8Array, query = '') =>
    server.call(`/api/vfs/write?path=${encodeURIComponent(path)}${query}`, {
      method: 'POST',
      auth: true,
      headers: OCTETS,
      body,
    })
  const post = (op: string, body: unknown) =>
    server.call(`/api/vfs/${op}`, { method: 'POST', auth: true, json: body })

  test('write, ls, stat, read (whole, a window, a Range, as a download), mkdir, cp, mv, rm, flush', async () => {
    const w = await json(await write('/notes/today.txt', 'hello, vfs\n', '&parents=true&pin=true'), 201)
    assert.equal(w.path, '/notes/today.txt')
    assert.equal(w.size, 11)
    assert.equal(w.pinned, true)
    const ls = await json(await server.call('/api/vfs/ls?path=/notes'), 200)
    assert.deepEqual(
      ls.entries.map((e: Loose) => [e.name, e.type, e.size, e.cid]),
      [['today.txt', 'file', 11, w.cid]],
    )
    const root = await json(await server.call('/api/vfs/stat'), 200)
    assert.equal(root.path, '/')
    assert.equal(root.cid, w.root)

    const whole = await server.call('/api/vfs/read?path=/notes/today.txt')
    assert.equal(whole.status, 200)
    assert.equal(whole.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(whole.headers.get('x-ipfs-path'), `/ipfs/${w.cid}`)
    assert.equal(await whole.text(), 'hello, vfs\n')
    const window = await server.call('/api/vfs/read?path=/notes/today.txt&offset=7&length=3')
    assert.equal(await window.text(), 'vfs')
    const ranged = await server.call('/api/vfs/read?path=/notes/today.txt', {
      headers: { range: 'bytes=0-4' },
    })
    assert.equal(ranged.status, 206)
    assert.equal(await ranged.text(), 'hello')
    const download = await server.call('/api/vfs/read?path=/notes/today.txt&download=true')
    assert.equal(download.headers.get('content-disposition'), "attachment; filename*=UTF-8''today.txt")
    await download.arrayBuffer()

    // a write at an offset changes those bytes only (Kubo's `files write --offset`)
    await json(await write('/notes/today.txt', 'HELLO', '&offset=0'), 201)
    assert.equal(await (await server.call('/api/vfs/read?path=/notes/today.txt')).text(), 'HELLO, vfs\n')

    await json(await post('mkdir', { path: '/a/b/c', parents: true }), 201)
    const added = await run(['ipfs', 'add', '-Q', '--pin=false'], { home, input: 'linked, not copied\n' })
    const cid = added.stdout.toString().trim()
    const cp = await json(await post('cp', { from: `/ipfs/${cid}`, to: '/a/b/c/linked.txt' }), 201)
    assert.equal(cp.cid, cid)
    await json(await post('mv', { from: '/a/b/c/linked.txt', to: '/notes/' }), 200)
    assert.deepEqual(
      (await json(await server.call('/api/vfs/ls?path=/notes'), 200)).entries.map((e: Loose) => e.name),
      ['linked.txt', 'today.txt'],
    )
    const rm = await json(await post('rm', { path: '/a', recursive: true }), 200)
    assert.equal(rm.removed, true)
    const flushed = await json(await post('flush', { path: '/notes' }), 200)
    assert.equal(flushed.cid, (await json(await server.call('/api/vfs/stat?path=/notes'), 200)).cid)
    assert.equal(flushed.root, (await json(await server.call('/api/vfs/stat'), 200)).cid)

    // the CLI sees the same tree
    const cli = await run(['vfs', 'stat', '--hash', '/'], { home })
    assert.equal(cli.stdout.toString().trim(), flushed.root)
  })

  test('clear errors: no token 401, no such path 404, in the way 409, a directory read 409, too large 413', async () => {
    const unauth = await server.call('/api/vfs/mkdir', { method: 'POST', json: { path: '/x' } })
    assert.equal(unauth.status, 401)
    const missing = await json(await server.call('/api/vfs/read?path=/no/such/file'), 404)
    assert.match(missing.error.message, /no such file or directory/)
    await json(await post('mkdir', { path: '/exists' }), 201)
    const exists = await json(await post('mkdir', { path: '/exists' }), 409)
    assert.equal(exists.error.code, 'ERR_EXISTS')
    const dir = await json(await server.call('/api/vfs/read?path=/exists'), 409)
    assert.match(dir.error.message, /is a directory/)
    const big = await json(await write('/big.bin', new Uint8Array(1024 * 1024 + 1)), 413)
    assert.match(big.error.message, /max_upload_size/)
    assert.equal((await server.call('/api/vfs/stat?path=/big.bin')).status, 404)
    // an offset far past the end would make the server write the zeros between: bounded by the same limit
    const far = await json(await write('/sparse.bin', 'x', `&offset=${Number.MAX_SAFE_INTEGER}`), 413)
    assert.match(far.error.message, /past the end of \/sparse.bin/)
    assert.equal((await server.call('/api/vfs/stat?path=/sparse.bin')).status, 404)
    await json(await write('/sparse.bin', 'x', '&offset=1000'), 201)
    assert.equal((await json(await server.call('/api/vfs/stat?path=/sparse.bin'), 200)).size, 1001)
    const noType = await server.call('/api/vfs/write?path=/t.txt', { method: 'POST', auth: true, body: 'x' })
    assert.equal(noType.status, 400)
  })

  test('path traversal is refused and changes nothing: .., encoded slashes and dots, NUL, relative, backslash', async () => {
    const before = (await json(await server.call('/api/vfs/stat'), 200)).cid
    const outside = readdirSync(tmp.dir).sort()
    for (const path of [
      '/../escape.txt',
      '/notes/../../escape.txt',
      '/notes/%2e%2e/escape.txt',
      '/notes%2f..%2fescape.txt',
      '/notes/\0escape.txt',
      'escape.txt',
      '\\notes\\escape.txt',
      '/notes/./escape.txt',
    ]) {
      const res = await json(await write(path, 'x', '&parents=true'), 400)
      assert.equal(res.error.code, 'ERR_INVALID_INPUT', path)
      const read = await server.call(`/api/vfs/read?path=${encodeURIComponent(path)}`)
      assert.equal(read.status, 400, path)
      await read.arrayBuffer()
      const mv = await post('mv', { from: '/notes', to: path })
      assert.equal(mv.status, 400, path)
      await mv.arrayBuffer()
    }
    assert.equal((await json(await server.call('/api/vfs/stat'), 200)).cid, before)
    assert.deepEqual(readdirSync(tmp.dir).sort(), outside)
    assert.equal(existsSync(join(home, '..', 'escape.txt')), false)
  })
})
