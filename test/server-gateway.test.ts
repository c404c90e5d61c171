import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { CarBlockIterator } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { run, suiteTempDir } from './helpers/cli.ts'
import { carOf, writeRandomFile } from './helpers/fixtures.ts'
import { KUBO_BIN, KuboRepo, requireKubo } from './helpers/kubo.ts'
import { startServer, type TestServer } from './helpers/server.ts'

/** `ipfs-kit ipfs add -Q` of a path; the root CID. */
async function add(home: string, args: string[]): Promise<string> {
  const r = await run(['ipfs', 'add', '-Q', ...args], { home })
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.toString().trim()
}

describe('gateway /ipfs/<cid>[/path]', () => {
  const tmp = suiteTempDir()
  let home: string
  let server: TestServer
  let fileCid: string
  let siteCid: string
  let listCid: string
  let fileBytes: Buffer

  before(async () => {
    home = join(tmp.dir, 'home')
    const file = join(tmp.dir, 'random.bin')
    writeRandomFile(file, 3 * 1024 * 1024 + 17, 'gateway')
    fileBytes = readFileSync(file)
    fileCid = await add(home, [file])
    const site = join(tmp.dir, 'site')
    mkdirSync(join(site, 'docs'), { recursive: true })
    writeFileSync(join(site, 'index.html'), '<!doctype html><title>home</title>')
    writeFileSync(join(site, 'docs', 'read me.txt'), 'plain words\n')
    writeFileSync(join(site, 'docs', 'data.json'), '{"a":1}')
    siteCid = await add(home, ['-r', site])
    listCid = await add(home, ['-r', join(site, 'docs')])
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
  })

  test('a file comes back byte for byte, with the caching headers of immutable content', async () => {
    const res = await server.call(`/ipfs/${fileCid}`)
    assert.equal(res.status, 200)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), fileBytes)
    assert.equal(res.headers.get('content-length'), String(fileBytes.length))
    assert.equal(res.headers.get('etag'), `"${fileCid}"`)
    assert.equal(res.headers.get('cache-control'), 'public, max-age=29030400, immutable')
    assert.equal(res.headers.get('x-ipfs-path'), `/ipfs/${fileCid}`)
    assert.equal(res.headers.get('x-ipfs-roots'), fileCid)
    assert.equal(res.headers.get('content-type'), 'application/octet-stream')
  })

  test('HEAD answers the same headers and no body', async () => {
    const res = await server.call(`/ipfs/${fileCid}`, { method: 'HEAD' })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-length'), String(fileBytes.length))
    assert.equal((await res.arrayBuffer()).byteLength, 0)
    // a large GET writes its body itself (its chunks' memory is reused after each write): the same
    // headers as the HEAD, which fastify answers
    const get = await server.call(`/ipfs/${fileCid}`)
    await get.arrayBuffer()
    const headers = (r: Response) =>
      [...r.headers].filter(([name]) => !['date', 'connection', 'keep-alive'].includes(name))
    assert.deepEqual(headers(get), headers(res))
  })

  test('Range: one range is a 206 with the exact bytes; several are multipart; outside is 416', async () => {
    const start = 262_000
    const end = 262_300 // crosses the first 256 KiB chunk boundary
    const one = await server.call(`/ipfs/${fileCid}`, { headers: { range: `bytes=${start}-${end}` } })
    assert.equal(one.status, 206)
    assert.equal(one.headers.get('content-range'), `bytes ${start}-${end}/${fileBytes.length}`)
    assert.deepEqual(Buffer.from(await one.arrayBuffer()), fileBytes.subarray(start, end + 1))

    const tail = await server.call(`/ipfs/${fileCid}`, { headers: { range: 'bytes=-10' } })
    assert.deepEqual(Buffer.from(await tail.arrayBuffer()), fileBytes.subarray(-10))

    const multi = await server.call(`/ipfs/${fileCid}`, { headers: { range: 'bytes=0-3,1000000-1000003' } })
    assert.equal(multi.status, 206)
    assert.match(multi.headers.get('content-type') ?? '', /^multipart\/byteranges; boundary=/)
    const body = Buffer.from(await multi.arrayBuffer())
    assert.ok(body.includes(fileBytes.subarray(0, 4)))
    assert.ok(body.includes(fileBytes.subarray(1_000_000, 1_000_004)))
    assert.match(
      body.toString('latin1'),
      new RegExp(`Content-Range: bytes 1000000-1000003/${fileBytes.length}`),
    )

    const outside = await server.call(`/ipfs/${fileCid}`, {
      headers: { range: `bytes=${fileBytes.length + 5}-` },
    })
    assert.equal(outside.status, 416)
    assert.equal(outside.headers.get('content-range'), `bytes */${fileBytes.length}`)
  })

  test('If-None-Match with the ETag is a 304 without a body', async () => {
    const res = await server.call(`/ipfs/${fileCid}`, { headers: { 'if-none-match': `"${fileCid}"` } })
    assert.equal(res.status, 304)
    assert.equal((await res.arrayBuffer()).byteLength, 0)
    const other = await server.call(`/ipfs/${fileCid}`, {
      method: 'HEAD',
      headers: { 'if-none-match': '"x"' },
    })
    assert.equal(other.status, 200)
  })

  test('?format=raw and Accept: application/vnd.ipld.raw give the block, which hashes to its CID', async () => {
    for (const init of [
      { path: `/ipfs/${fileCid}?format=raw` },
      { path: `/ipfs/${fileCid}`, accept: 'application/vnd.ipld.raw' },
    ]) {
      const res = await server.call(init.path, { headers: init.accept ? { accept: init.accept } : {} })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
      assert.equal(res.headers.get('content-disposition'), `attachment; filename="${fileCid}.bin"`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      const digest = await sha256.digest(bytes)
      assert.deepEqual(digest.bytes, CID.parse(fileCid).multihash.bytes)
    }
  })

  test('a CAR of a directory is complete, in DFS order, and Kubo `ipfs dag import` accepts it', async () => {
    requireKubo()
    const res = await server.call(`/ipfs/${siteCid}?format=car`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=n')
    const car = Buffer.from(await res.arrayBuffer())
    const blocks: string[] = []
    for await (const b of await CarBlockIterator.fromBytes(car)) blocks.push(b.cid.toString())
    assert.equal(blocks[0], siteCid)
    assert.equal(new Set(blocks).size, blocks.length)
    const carFile = join(tmp.dir, 'site.car')
    writeFileSync(carFile, car)
    const kubo = new KuboRepo(join(tmp.dir, 'kubo'))
    const out = execFileSync(KUBO_BIN, ['dag', 'import', '--offline', '--stats', carFile], {
      env: kubo.env,
    }).toString()
    assert.match(out, new RegExp(`Pinned root\\s+${siteCid}\\s+success`))
    assert.match(out, new RegExp(`Imported ${blocks.length} blocks`))
  })

  test('a directory redirects to its slash form and serves index.html; one without lists its entries', async () => {
    const redirect = await server.call(`/ipfs/${siteCid}?x=1`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), `/ipfs/${siteCid}/?x=1`)

    const index = await server.call(`/ipfs/${siteCid}/`)
    assert.equal(index.status, 200)
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(await index.text(), '<!doctype html><title>home</title>')

    const listing = await server.call(`/ipfs/${listCid}/`)
    assert.equal(listing.status, 200)
    const html = await listing.text()
    assert.match(html, /Index of/)
    assert.ok(html.includes(`href="/ipfs/${listCid}/read%20me.txt">read me.txt</a>`))
    assert.ok(html.includes('>data.json</a>'))
  })

  test('a path below the root: the name decides the Content-Type, X-Ipfs-Roots names each step', async () => {
    const res = await server.call(`/ipfs/${siteCid}/docs/read%20me.txt`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
    assert.equal(await res.text(), 'plain words\n')
    assert.equal(res.headers.get('x-ipfs-roots')?.split(',').length, 3)
    const json = await server.call(`/ipfs/${siteCid}/docs/data.json`)
    assert.equal(json.headers.get('content-type'), 'application/json')
  })

  test('a CID not stored here is a 404 at once (no network wait); a missing name too; a bad CID is a 400', async () => {
    const absent = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    const res = await server.call(`/ipfs/${absent}`)
    assert.equal(res.status, 404)
    const body = (await res.json()) as { error: { code: string; message: string } }
    assert.equal(body.error.code, 'ERR_NOT_FOUND')
    assert.match(body.error.message, /not stored locally/)
    assert.equal((await server.call(`/ipfs/${siteCid}/nope.txt`)).status, 404)
    const bad = await server.call('/ipfs/not-a-cid')
    assert.equal(bad.status, 400)
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'ERR_INVALID_CID')
    assert.equal((await server.call(`/ipfs/${siteCid}/..%2F..%2Fetc`)).status, 400)
  })

  test('?format=tar: every member byte for byte (a subtree, a large file, a symlink); a name that would leave the root is a 400', async () => {
    const src = join(tmp.dir, 'tartree')
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true })
    writeFileSync(join(src, 'a.txt'), 'alpha\n')
    writeFileSync(join(src, 'sub', 'deeper', 'b.txt'), 'beta\n')
    writeRandomFile(join(src, 'sub', 'big.bin'), 3 * 1024 * 1024 + 5, 'tar-big')
    symlinkSync('a.txt', join(src, 'link'))
    for (const version of ['0', '1']) {
      const cid = await add(home, ['-r', '--cid-version', version, src])
      const res = await server.call(`/ipfs/${cid}?format=tar`)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/x-tar')
      const tarFile = join(tmp.dir, `tree-v${version}.tar`)
      writeFileSync(tarFile, Buffer.from(await res.arrayBuffer()))
      const out = join(tmp.dir, `untar-v${version}`)
      mkdirSync(out)
      execFileSync('tar', ['-xf', tarFile, '-C', out])
      const root = join(out, cid)
      assert.deepEqual(readdirSync(root).sort(), ['a.txt', 'link', 'sub'])
      for (const f of ['a.txt', 'sub/deeper/b.txt', 'sub/big.bin'])
        assert.ok(readFileSync(join(root, f)).equals(readFileSync(join(src, f))), `v${version} ${f}`)
      assert.equal(readlinkSync(join(root, 'link')), 'a.txt')
    }
    // a directory whose entry is named "..", imported from a CAR: refused before anything is sent
    const leaf = { bytes: new TextEncoder().encode('payload') }
    const leafCid = CID.createV1(raw.code, await sha256.digest(leaf.bytes))
    const evilBytes = dagPb.encode(
      dagPb.prepare({
        Data: new UnixFS({ type: 'directory' }).marshal(),
        Links: [{ Hash: leafCid, Name: '..', Tsize: 7 }],
      }),
    )
    const evilCid = CID.createV0(await sha256.digest(evilBytes))
    const car = join(tmp.dir, 'evil.car')
    writeFileSync(
      car,
      await carOf(
        [evilCid],
        [
          { cid: evilCid, bytes: evilBytes },
          { cid: leafCid, bytes: leaf.bytes },
        ],
      ),
    )
    assert.equal((await run(['ipfs', 'dag', 'import', car], { home })).code, 0)
    const bad = await server.call(`/ipfs/${evilCid}?format=tar`)
    assert.equal(bad.status, 400)
    assert.match(await bad.text(), /would leave the root of the tar/)
  })

  test('?format=tar of a 384 MiB tree of single-block files to a client that stalls: the server peak RSS grows far less than the tree', async () => {
    const src = join(tmp.dir, 'wide')
    mkdirSync(src)
    // 200 KiB each: one raw block per file with --cid-version 1, so every file is a block of its own
    for (let i = 0; i < 1966; i++) writeRandomFile(join(src, `f${i}.bin`), 200 * 1024, `wide-${i}`)
    const cid = await add(home, ['-r', '--cid-version', '1', src])
    const peakBefore = peakRss(server.child.pid!)
    const res = await server.call(`/ipfs/${cid}?format=tar`)
    assert.equal(res.status, 200)
    let n = 0
    let stalled = false
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      n += chunk.length
      if (!stalled) {
        // a client that stops reading for a while: the server must wait, not gather the tree
        stalled = true
        await new Promise((r) => setTimeout(r, 1500))
      }
    }
    // 1966 headers and files of 512-byte blocks, one directory header, two zero blocks at the end
    assert.ok(n >= 1966 * (200 * 1024 + 512), `the tar has ${n} bytes`)
    const growth = peakRss(server.child.pid!) - peakBefore
    assert.ok(growth < 128 * 1024 * 1024, `peak RSS grew by ${growth} bytes serving a 384 MiB tree`)
  })

  // The server pipes with backpressure into the socket, and the content core's reader is pulled:
  // a client that stops reading for a while makes the server stop reading blocks, not buffer the file.
  test('a large file streams with bounded memory to a client that stalls: the server peak RSS grows far less than the file', async () => {
    const big = join(tmp.dir, 'big.bin')
    writeRandomFile(big, 384 * 1024 * 1024, 'big')
    const cid = await add(home, [big])
    const peakBefore = peakRss(server.child.pid!)
    const res = await server.call(`/ipfs/${cid}`)
    const hash = createHash('sha256')
    let n = 0
    let stalled = false
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk)
      n += chunk.length
      if (!stalled) {
        stalled = true
        await new Promise((r) => setTimeout(r, 1500))
      }
    }
    assert.equal(n, 384 * 1024 * 1024)
    assert.equal(hash.digest('hex'), createHash('sha256').update(readFileSync(big)).digest('hex'))
    const growth = peakRss(server.child.pid!) - peakBefore
    // buffering the file would grow it by 384 MiB; a bounded window plus the garbage collector's slack
    // (Node 24's collector lets more accumulate than Node 20's: 82 MB at 192 MiB) stays under a third
    assert.ok(growth < 128 * 1024 * 1024, `peak RSS grew by ${growth} bytes serving a 384 MiB file`)
  })
})

/** A process's peak resident set size in bytes (VmHWM, Linux). */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  assert.ok(kb != null, 'VmHWM missing from /proc status')
  return Number(kb[1]) * 1024
}
