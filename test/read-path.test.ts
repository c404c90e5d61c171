import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { BIN, run, suiteTempDir } from './helpers/cli.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

/** The peak RSS (VmHWM) of a running process, in bytes, polled until it exits. */
function watchPeakRss(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let peak = 0
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m != null) peak = Math.max(peak, Number(m[1]) * 1024)
      } catch {
        // the process is gone: the last reading stands
      }
    }, 20)
    child.once('close', () => {
      clearInterval(poll)
      resolve(peak)
    })
  })
}

/**
 * Runs the CLI with stdout into a reader that reads nothing for `stallMs`, then hashes the rest:
 * the way a slow consumer (a network upload, a busy disk) treats `ipfs cat`.
 */
async function catIntoStalledReader(
  args: string[],
  home: string,
  stallMs: number,
): Promise<{ code: number | null; sha256: string; bytes: number; peakRss: number; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, IPFS_KIT_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const peak = watchPeakRss(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  child.stdout!.pause()
  await new Promise((r) => setTimeout(r, stallMs))
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of child.stdout!) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  const code = await new Promise<number | null>((r) => {
    if (child.exitCode != null) r(child.exitCode)
    else child.once('close', (c) => r(c))
  })
  return { code, sha256: hash.digest('hex'), bytes, peakRss: await peak, stderr }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

describe('the read path: bounded memory for any file size', () => {
  const tmp = suiteTempDir()
  /** A generous bound: Node alone is ~45 MiB; the file is 512 MiB, so buffering it would exceed this. */
  const RSS_LIMIT = 200 * MiB

  it('cat of a 512 MiB file into a reader that stalls for 3 s: byte-identical, RSS bounded, no error', async () => {
    const home = join(tmp.dir, 'home')
    const file = join(tmp.dir, 'big.bin')
    writeRandomFile(file, 512 * MiB, 'read-path')
    const added = await run(['ipfs', 'add', '-Q', '--cid-version', '1', file], { home })
    assert.equal(added.code, 0, added.stderr)
    const cid = added.stdout.toString().trim()
    const expected = await sha256File(file)

    const cat = await catIntoStalledReader(['ipfs', 'cat', cid], home, 3000)
    assert.equal(cat.code, 0, cat.stderr)
    assert.equal(cat.bytes, 512 * MiB)
    assert.equal(cat.sha256, expected)
    assert.ok(cat.peakRss < RSS_LIMIT, `cat peak RSS ${(cat.peakRss / MiB).toFixed(0)} MiB`)

    // the same with every block re-hashed on the way out
    const verified = await catIntoStalledReader(['ipfs', 'cat', '--verify', cid], home, 1000)
    assert.equal(verified.code, 0, verified.stderr)
    assert.equal(verified.sha256, expected)
    assert.ok(
      verified.peakRss < RSS_LIMIT,
      `cat --verify peak RSS ${(verified.peakRss / MiB).toFixed(0)} MiB`,
    )

    // get to a file: identical bytes, bounded memory
    const out = join(tmp.dir, 'got.bin')
    const child = spawn(process.execPath, [BIN, 'ipfs', 'get', cid, '-o', out], {
      env: { ...process.env, IPFS_KIT_HOME: home },
      stdio: 'ignore',
    })
    const peak = await watchPeakRss(child)
    assert.equal(child.exitCode, 0)
    assert.equal(await sha256File(out), expected)
    assert.ok(peak < RSS_LIMIT, `get peak RSS ${(peak / MiB).toFixed(0)} MiB`)

    // dag export into a stalled reader: a CAR the size of the DAG, memory bounded
    const car = await catIntoStalledReader(['ipfs', 'dag', 'export', cid], home, 1000)
    assert.equal(car.code, 0, car.stderr)
    assert.ok(car.bytes > 512 * MiB)
    assert.ok(car.peakRss < RSS_LIMIT, `dag export peak RSS ${(car.peakRss / MiB).toFixed(0)} MiB`)
  })

  it('Ctrl-C during a large get leaves nothing under the target name and no temporary files', async () => {
    const home = join(tmp.dir, 'home')
    const file = join(tmp.dir, 'big.bin')
    const cid = (await run(['ipfs', 'add', '-Q', '--cid-version', '1', file], { home })).stdout
      .toString()
      .trim()
    const outDir = join(tmp.dir, 'interrupted')
    const out = join(outDir, 'target.bin')
    const child = spawn(process.execPath, [BIN, 'ipfs', 'get', cid, '-o', out], {
      env: { ...process.env, IPFS_KIT_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    // interrupt once the temporary file has started to grow
    while (!existsSync(outDir) || readdirSync(outDir).length === 0) await new Promise((r) => setTimeout(r, 5))
    child.kill('SIGINT')
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)))
    assert.equal(code, 130, stderr)
    assert.match(stderr, /interrupted/)
    assert.deepEqual(readdirSync(outDir), [], 'no partial file, no temp file')
  })

  it('a directory tree appears whole or not at all, and unsafe names never leave it', async () => {
    const home = join(tmp.dir, 'home2')
    const src = join(tmp.dir, 'tree')
    const { mkdirSync, writeFileSync } = await import('node:fs')
    mkdirSync(join(src, 'a/b'), { recursive: true })
    writeFileSync(join(src, 'a/b/c.txt'), 'deep')
    writeFileSync(join(src, 'top.txt'), 'top')
    const cid = (await run(['ipfs', 'add', '-r', '-Q', src], { home })).stdout.toString().trim()
    const out = join(tmp.dir, 'tree-out')
    const got = await run(['ipfs', 'get', cid, '-o', out], { home })
    assert.equal(got.code, 0, got.stderr)
    assert.equal(readFileSync(join(out, 'a/b/c.txt'), 'utf8'), 'deep')
    assert.deepEqual(
      readdirSync(tmp.dir).filter((n) => n.includes('partial')),
      [],
    )
    // a subpath, and a refusal to overwrite
    const sub = await run(['ipfs', 'cat', `${cid}/a/b/c.txt`], { home })
    assert.equal(sub.stdout.toString(), 'deep')
    const again = await run(['ipfs', 'get', cid, '-o', out], { home })
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already exists/)
  })

  it('cat into a regular file (written a page per call) gives the stored bytes, whole and by range', async () => {
    const home = join(tmp.dir, 'file-out-home')
    const file = join(tmp.dir, 'file-out.bin')
    // 3 MiB and an odd tail: twelve 256 KiB leaves and a short one
    writeRandomFile(file, 3 * MiB + 4_321, 'file-out')
    const source = readFileSync(file)
    for (const version of ['0', '1']) {
      const added = await run(['ipfs', 'add', '-Q', '--cid-version', version, file], { home })
      assert.equal(added.code, 0, added.stderr)
      const cid = added.stdout.toString().trim()
      for (const [range, expected] of [
        [[], source],
        [['--offset', '100001', '--length', '1000003'], source.subarray(100_001, 1_100_004)],
      ] as const) {
        const out = join(tmp.dir, `file-out-v${version}-${range.length}.bin`)
        const fd = openSync(out, 'w')
        const child = spawn(process.execPath, [BIN, 'ipfs', 'cat', cid, ...range], {
          env: { ...process.env, IPFS_KIT_HOME: home },
          stdio: ['ignore', fd, 'pipe'],
        })
        closeSync(fd)
        let stderr = ''
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString()
        })
        const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)))
        assert.equal(code, 0, stderr)
        assert.ok(readFileSync(out).equals(expected), `CIDv${version} ${range.join(' ') || 'whole'}`)
      }
    }
  })

  it('a corrupt block: a clear error naming the CID when verifying, and repo verify finds it in both modes', async () => {
    const home = join(tmp.dir, 'corrupt-home')
    const file = join(tmp.dir, 'corrupt.bin')
    writeRandomFile(file, 3 * MiB, 'corrupt-me')
    const cid = (await run(['ipfs', 'add', '-Q', '--cid-version', '1', file], { home })).stdout
      .toString()
      .trim()
    // flip one byte in the middle of the pack: inside some leaf's data
    const packs = join(home, 'blocks', 'packs')
    const pack = join(packs, readdirSync(packs)[0]!)
    const fd = openSync(pack, 'r+')
    writeSync(fd, Buffer.from([0xff ^ readFileSync(pack)[MiB]!]), 0, 1, MiB)

    for (const args of [
      ['ipfs', 'cat', '--verify', cid],
      ['ipfs', 'get', '--verify', cid, '-o', join(tmp.dir, 'c1')],
      ['ipfs', 'dag', 'export', '--verify', cid],
    ]) {
      const r = await run(args, { home })
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /^Error: block bafk\w+ is corrupt on disk/m)
    }
    assert.ok(!existsSync(join(tmp.dir, 'c1')))
    // hash_on_read in the config switches verification on for every read
    const { writeFileSync } = await import('node:fs')
    writeFileSync(join(home, 'config.json'), JSON.stringify({ hash_on_read: true }))
    const r = await run(['ipfs', 'cat', cid], { home })
    assert.equal(r.code, 1)
    assert.match(r.stderr, /corrupt on disk/)
    const unverified = await run(['ipfs', 'cat', '--no-verify', cid], { home })
    assert.equal(unverified.code, 0, 'with --no-verify the stored bytes are served, as Kubo does by default')
    for (const hashOnRead of [true, false]) {
      writeFileSync(join(home, 'config.json'), JSON.stringify({ hash_on_read: hashOnRead }))
      const verify = await run(['repo', 'verify'], { home })
      assert.equal(verify.code, 1, verify.stdout.toString() + verify.stderr)
      assert.match(verify.stdout.toString() + verify.stderr, /bafk\w+/)
    }
    // and so does IPFS_KIT_HASH_ON_READ with no config.json; with neither, the default (off) holds
    rmSync(join(home, 'config.json'))
    const byEnv = await run(['ipfs', 'cat', cid], { home, env: { IPFS_KIT_HASH_ON_READ: 'true' } })
    assert.equal(byEnv.code, 1)
    assert.match(byEnv.stderr, /corrupt on disk/)
    assert.equal((await run(['ipfs', 'cat', cid], { home })).code, 0)
  })
})
