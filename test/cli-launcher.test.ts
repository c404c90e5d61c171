// The command as npm installs it (bin/ipfs-kit, a shell script run through a symlink) and the
// compile cache bin/ipfs-kit.js keeps: what a user notices is that both give the same answers as
// `node bin/ipfs-kit.js`, that a command that opens no TLS connection starts without Node 20
// parsing NODE_EXTRA_CA_CERTS, that the variable is back for anything the command starts, and that
// a damaged cache never breaks a command.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { BIN, run, tempDir } from './helpers/cli.ts'

const LAUNCHER = join(BIN, '..', 'ipfs-kit')

describe('bin/ipfs-kit and the compile cache', () => {
  let t: { dir: string; cleanup: () => void }
  let home: string
  let cid: string
  before(async () => {
    t = tempDir()
    home = join(t.dir, 'data')
    const file = join(t.dir, 'hello.txt')
    writeFileSync(file, 'hello launcher\n')
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    cid = added.stdout.toString().trim()
  })
  after(() => t.cleanup())

  /** Runs the launcher through a symlink, as npm's bin directory holds it, with a preload that
   * records NODE_EXTRA_CA_CERTS as Node started with it and as the command left it. */
  function launch(args: string[], env: NodeJS.ProcessEnv) {
    const link = join(t.dir, 'bin-ipfs-kit')
    try {
      symlinkSync(LAUNCHER, link)
    } catch {}
    const record = join(t.dir, 'env.json')
    const preload = join(t.dir, 'preload.cjs')
    writeFileSync(
      preload,
      `const start = process.env.NODE_EXTRA_CA_CERTS ?? null
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify({ start, exit: process.env.NODE_EXTRA_CA_CERTS ?? null, stash: process.env.IPFS_KIT_NODE_EXTRA_CA_CERTS ?? null })))`,
    )
    const r = spawnSync(link, args, {
      env: { ...process.env, IPFS_KIT_HOME: home, NODE_OPTIONS: `--require ${preload}`, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    })
    return { ...r, seen: JSON.parse(readFileSync(record, 'utf8')) as Record<string, string | null> }
  }

  test('through a symlink: the same bytes as `node bin/ipfs-kit.js`', async () => {
    const direct = await run(['ipfs', 'cat', cid], { home })
    const launched = launch(['ipfs', 'cat', cid], {})
    assert.equal(launched.status, 0, launched.stderr)
    assert.equal(launched.stdout, 'hello launcher\n')
    assert.equal(launched.stdout, direct.stdout.toString())
  })

  test('NODE_EXTRA_CA_CERTS: set aside for `ipfs cat` and `--version`, back in the environment once they run', () => {
    const ca = join(t.dir, 'extra-ca.pem')
    writeFileSync(ca, '')
    const r = launch(['--data-dir', home, 'ipfs', 'cat', cid], { NODE_EXTRA_CA_CERTS: ca })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, 'hello launcher\n')
    assert.deepEqual(r.seen, { start: null, exit: ca, stash: null })
    const version = launch(['--version'], { NODE_EXTRA_CA_CERTS: ca })
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
    assert.deepEqual(version.seen, { start: null, exit: ca, stash: null })
  })

  test('NODE_EXTRA_CA_CERTS: kept from the start for commands that may open TLS, and with --api', () => {
    const ca = join(t.dir, 'extra-ca.pem')
    writeFileSync(ca, '')
    for (const args of [
      ['backend', 'list'],
      ['daemon', 'status'],
      ['--api', 'http://127.0.0.1:9', 'pin', 'list'],
    ]) {
      const r = launch(args, { NODE_EXTRA_CA_CERTS: ca })
      assert.deepEqual(r.seen, { start: ca, exit: ca, stash: null }, args.join(' '))
    }
  })

  test('the compile cache: written once, read after, and a damaged one only costs a compile', async () => {
    const cache = join(t.dir, 'xdg-cache')
    const env = { XDG_CACHE_HOME: cache }
    const first = await run(['ipfs', 'cat', cid], { home, env })
    assert.equal(first.code, 0, first.stderr)
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name))
    const written = files(join(cache, 'ipfs-kit', 'compile-cache'))
    assert.ok(written.length > 0, 'no compiled code was kept')
    const times = new Map(written.map((f) => [f, statSync(f).mtimeMs]))
    const second = await run(['ipfs', 'cat', cid], { home, env })
    assert.equal(second.stdout.toString(), 'hello launcher\n')
    // Node 20 (bin/ipfs-kit.js's own cache): a cache V8 accepted is not written again
    if (!('enableCompileCache' in (await import('node:module')).default)) {
      for (const f of written) assert.equal(statSync(f).mtimeMs, times.get(f), `${f} was compiled again`)
    }
    for (const f of written) writeFileSync(f, 'not compiled code')
    const damaged = await run(['ipfs', 'cat', cid], { home, env })
    assert.equal(damaged.code, 0, damaged.stderr)
    assert.equal(damaged.stdout.toString(), 'hello launcher\n')
    assert.equal(damaged.stderr, '')
  })
})
