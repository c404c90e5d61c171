import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { cli, type DaemonProcess, sleep, spawnDaemon, writeDaemonConfig } from '../scripts/harness.ts'
import { suiteTempDir, tempDir } from './helpers/cli.ts'
import { json, type Loose } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

/** One line on stderr, `Error: ...`, and no stack trace. */
function assertOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line, not:\n${stderr}`)
  assert.match(lines[0]!, /^Error: /)
  assert.match(lines[0]!, pattern)
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
}

/** Flips one byte at `offset` of `path` (XOR 0xff), the way a bad sector or a stray write would. */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] = b[0]! ^ 0xff
    writeSync(fd, b, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

describe('fault: the disk fills', () => {
  it('refuses the add clearly, keeps serving reads, half-written data never counts, and recovers', async (t) => {
    const { dir: mnt, cleanup } = tempDir('ipfs-kit-tmpfs-')
    // a real full disk: a 20 MiB tmpfs holds the data directory
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt])
    let daemon: DaemonProcess | undefined
    const { dir: outside, cleanup: cleanupOutside } = tempDir()
    try {
      const home = join(mnt, 'data')
      writeDaemonConfig(home)
      daemon = await spawnDaemon(home)
      const small = join(outside, 'small.bin')
      writeRandomFile(small, 300 * 1024, 'before-full')
      const first = await cli(home, ['ipfs', 'add', '-Q', small])
      assert.equal(first.code, 0, first.stderr)
      const firstCid = first.stdout.trim()

      // fill what is left
      const filler = join(mnt, 'filler')
      const fd = openSync(filler, 'w')
      try {
        const chunk = Buffer.alloc(MiB, 1)
        for (;;) {
          try {
            writeSync(fd, chunk)
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
            throw err
          }
        }
        // the last partial MiB
        for (;;) {
          try {
            writeSync(fd, chunk.subarray(0, 4096))
          } catch {
            break
          }
        }
      } finally {
        closeSync(fd)
      }

      const big = join(outside, 'big.bin')
      writeRandomFile(big, 3 * MiB, 'while-full')
      const full = await cli(home, ['ipfs', 'add', '-Q', big], { timeoutMs: 60_000 })
      assert.equal(full.code, 1, `the add fails: ${full.stdout}${full.stderr}`)
      // one line that says what happened and what to do (F2), not SQLite's bare "database or disk is full"
      assertOneLineError(
        full.stderr,
        /no space left on the disk.*free some space and try again; nothing was added/,
      )
      t.diagnostic(`add on a full disk: ${full.stderr.trim()}`)
      assert.equal(full.stdout.trim(), '', 'no CID is printed for a failed add')

      // the daemon keeps serving reads
      assert.equal((await daemon.call('/health')).status, 200)
      const pins = await json(daemon.call('/pins?limit=10'))
      assert.ok(
        pins.results.some((p: Loose) => p.pin.cid === firstCid),
        'the pin made before the disk filled is listed',
      )
      // nothing half-written counts: every stored block re-hashes, and the failed add is not pinned
      const verify = await cli(home, ['repo', 'verify'])
      assert.equal(verify.code, 0, `${verify.stdout}${verify.stderr}`)
      assert.equal(pins.count, 1, 'the failed add left no pin')

      // space returns: adds work again, without restarting anything
      rmSync(filler)
      const again = await cli(home, ['ipfs', 'add', '-Q', big], { timeoutMs: 60_000 })
      assert.equal(again.code, 0, again.stderr)
      const cat = await cli(home, ['ipfs', 'cat', again.stdout.trim()])
      assert.ok(cat.stdoutBytes.equals(readFileSync(big)), 'the add after recovery reads back whole')
      assert.equal((await cli(home, ['repo', 'verify'])).code, 0)
      assert.equal(daemon.child.exitCode, null, 'the daemon survived the full disk')
      assert.equal((await daemon.call('/health')).status, 200)
      assert.equal(await daemon.stop(), 0)
    } finally {
      await daemon?.kill9()
      execFileSync('umount', ['-l', mnt])
      cleanup()
      cleanupOutside()
    }
  })
})

describe('fault: corruption on disk, found by verify and repaired from a replica', () => {
  const tmp = suiteTempDir()
  let daemon: DaemonProcess | undefined
  let home = ''
  let fs1 = ''
  const files: Record<string, string> = {}
  const cids: Record<string, string> = {}

  const sync = async (): Promise<Loose> => {
    const res = await daemon!.call('/replication/sync', {
      method: 'POST',
      json: { wait: true, verify: true },
      timeoutMs: 120_000,
    })
    assert.equal(res.status, 200)
    return ((await res.json()) as Loose).report
  }
  const replicas = async (cid: string): Promise<Record<string, string>> => {
    const pin = await json(daemon!.call(`/pins/${cid}`))
    return Object.fromEntries(pin.info.replicas.map((r: Loose) => [r.backend, r.state]))
  }

  it('replicates two pins to the local store and a filesystem backend', async () => {
    home = join(tmp.dir, 'data')
    fs1 = join(tmp.dir, 'fs1')
    mkdirSync(fs1, { recursive: true })
    writeDaemonConfig(home, {
      backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
      replication: { min_replicas: 2, max_replicas: 2, preferred: [], excluded: [] },
    })
    daemon = await spawnDaemon(home)
    for (const name of ['pack', 'car']) {
      files[name] = join(tmp.dir, `${name}.bin`)
      writeRandomFile(files[name]!, 1536 * 1024, `corrupt-${name}`)
      const add = await cli(home, ['ipfs', 'add', '-Q', files[name]!])
      assert.equal(add.code, 0, add.stderr)
      cids[name] = add.stdout.trim()
    }
    const report = await sync()
    assert.equal(report.failed, 0)
    for (const cid of Object.values(cids)) {
      assert.deepEqual(await replicas(cid), { local: 'verified', fs1: 'verified' })
    }
  })

  it('a flipped byte in a pack file: repo verify names the block, the verify pass stops counting the local copy', async () => {
    // the packs hold both files' blocks; flip a byte in the middle of the block holding `pack`'s
    // second chunk (found by scanning for its bytes, so the test knows which content it hit)
    const packs = join(home, 'blocks', 'packs')
    const needle = readFileSync(files.pack!).subarray(300 * 1024, 300 * 1024 + 64)
    let hit: { path: string; offset: number } | undefined
    for (const name of readdirSync(packs)) {
      const path = join(packs, name)
      const at = readFileSync(path).indexOf(needle)
      if (at !== -1) hit = { path, offset: at + 10 }
    }
    assert.ok(hit, 'the file bytes are in a pack')
    flipByte(hit.path, hit.offset)

    const verify = await cli(home, ['repo', 'verify'])
    assert.equal(verify.code, 1, 'repo verify fails on a corrupt block')
    assert.match(verify.stdout, /corrupt \S+: bytes do not hash to the CID/)
    assert.match(verify.stdout, /verified \d+ blocks, 1 corrupt/)
    // a verified read refuses the bad block by name, never serves it
    const cat = await cli(home, ['ipfs', 'cat', '--verify', cids.pack!])
    assert.equal(cat.code, 1)
    assert.match(cat.stderr, /corrupt/i)

    // the verify pass finds the local copy corrupt and, in the same pass, copies it back from fs1
    // (a copy into local replaces a stored block that no longer re-hashes)
    const report = await sync()
    assert.ok(report.failed >= 1 || report.copied >= 1, `the verify pass notices: ${JSON.stringify(report)}`)
    const states = await replicas(cids.pack!)
    assert.ok(states.local === 'failed' || states.local === 'verified', JSON.stringify(states))
    assert.equal(states.fs1, 'verified', 'the replica on fs1 still counts')
  })

  // RELIABILITY.md, finding F1 (fixed): the copy back from fs1 re-hashes the stored block and
  // replaces the corrupt one instead of deduplicating against it
  it('the corrupt pack block is repaired from the replica on fs1', async () => {
    await sync()
    assert.deepEqual(await replicas(cids.pack!), { local: 'verified', fs1: 'verified' })
    const after = await cli(home, ['repo', 'verify'])
    assert.equal(after.code, 0, `the corrupt block was repaired from fs1:\n${after.stdout}${after.stderr}`)
  })

  it('a flipped byte in a CAR on the filesystem backend: found by the verify pass and replaced', async () => {
    const car = join(fs1, `${cids.car}.car`)
    const size = statSync(car).size
    flipByte(car, Math.floor(size / 2))
    const report = await sync()
    assert.ok(report.failed >= 1 || report.copied >= 1, `the verify pass notices: ${JSON.stringify(report)}`)
    await sync()
    assert.deepEqual(await replicas(cids.car!), { local: 'verified', fs1: 'verified' })
    // the CAR on fs1 is whole again: a fresh data directory imports it, checking every block
    const fresh = join(tmp.dir, 'fresh')
    const imported = await cli(fresh, ['ipfs', 'dag', 'import', car])
    assert.equal(imported.code, 0, imported.stderr)
    const cat = await cli(fresh, ['ipfs', 'cat', cids.car!])
    assert.ok(cat.stdoutBytes.equals(readFileSync(files.car!)))
    assert.equal(await daemon!.stop(), 0)
  })

  it('stops the daemon', async () => {
    await daemon?.kill9()
  })
})

describe('fault: the data directory loses its permissions', () => {
  const tmp = suiteTempDir()
  // root ignores file modes: drop the capabilities that let it, as an ordinary user would run
  const asUser = [
    'setpriv',
    '--inh-caps=-dac_override,-dac_read_search',
    '--bounding-set=-dac_override,-dac_read_search',
  ]

  for (const withConfig of [true, false]) {
    it(`chmod 000 (${withConfig ? 'with' : 'without'} config.json): start fails with one line naming the directory`, async () => {
      const home = join(tmp.dir, withConfig ? 'with' : 'without')
      if (withConfig) writeDaemonConfig(home)
      assert.equal((await cli(home, ['repo', 'stat'])).code, 0)
      chmodSync(home, 0o000)
      try {
        const res = await cli(home, ['daemon', 'start', '--foreground', '--port', '0'], {
          wrap: asUser,
          timeoutMs: 30_000,
        })
        // exit 1, an unusable data directory, as README's exit codes say (F3: was 2, the usage code)
        assert.equal(res.code, 1, 'the daemon refuses to start with exit 1')
        assert.equal(res.killed, false, 'it exits on its own')
        assertOneLineError(res.stderr, new RegExp(home.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        assert.match(res.stderr, /EACCES|permission/i)
      } finally {
        chmodSync(home, 0o700)
      }
    })
  }
})

describe('fault: the clock jumps back and forth (faketime)', () => {
  const tmp = suiteTempDir()

  it('keeps every pin exactly once; the health history shows the newest probes first whatever the clock did', async () => {
    const home = join(tmp.dir, 'data')
    writeDaemonConfig(home, { health_check_interval: 1 })
    const clock = join(tmp.dir, 'faketime')
    writeFileSync(clock, '+0\n')
    // libfaketime re-reads the file on every call (NO_CACHE); only the wall clock jumps, as with a bad
    // NTP step or a hand-set date; monotonic timers keep running
    const env = {
      LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
      FAKETIME_TIMESTAMP_FILE: clock,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    }
    assert.ok(existsSync(env.LD_PRELOAD), 'faketime is installed (scripts/install-test-tools.sh)')
    const daemon = await spawnDaemon(home, { env })
    try {
      const pinned: string[] = []
      const offsets = ['+0', '-2d', '+3d', '-1h', '+0']
      for (const [i, offset] of offsets.entries()) {
        writeFileSync(clock, `${offset}\n`)
        await sleep(1500)
        const content = await cli(home, ['ipfs', 'add', '-Q', '--pin=false'], {
          input: `clock ${i} ${offset}`,
        })
        const cid = content.stdout.trim()
        const res = await daemon.call('/pins', { method: 'POST', json: { cid, name: `clock-${i}` } })
        assert.equal(res.status, 202)
        pinned.push(cid)
      }
      // pin the first one again, after the clock went back: still one pin
      assert.equal((await daemon.call('/pins', { method: 'POST', json: { cid: pinned[0] } })).status, 202)
      const sync = await daemon.call('/replication/sync', { method: 'POST', json: { wait: true } })
      assert.equal(sync.status, 200)

      const list = await json(daemon.call('/pins'))
      const cids = list.results.map((p: Loose) => p.pin.cid)
      assert.equal(list.count, pinned.length, 'no pin expired or was duplicated')
      assert.deepEqual([...cids].sort(), [...pinned].sort())
      for (const p of list.results) assert.equal(p.status, 'pinned', `${p.pin.cid} is still pinned`)

      const { history } = await json(daemon.call('/backends/local/health/history'))
      assert.ok(history.length >= 5, 'a probe a second was recorded through every jump')
      const stamps = new Set(history.map((h: Loose) => Math.round((h.at - Date.now()) / 3_600_000 / 24)))
      assert.ok(stamps.size >= 2, `probes carry the jumped clock's times (days off: ${[...stamps]})`)
      // listed in the order they were recorded (F5): the clock is back to now, so the first entry is a
      // probe of the last second, not one stamped three days ahead that would hide every newer probe
      assert.ok(
        Math.abs(history[0].at - Date.now()) < 60_000,
        `the newest probe comes first (${new Date(history[0].at).toISOString()})`,
      )
      assert.ok(
        history.some((h: Loose) => h.at - Date.now() > 2 * 86_400_000),
        'the probes of the +3d jump are still in the history, after the newer ones',
      )
      assert.equal(daemon.child.exitCode, null, 'the daemon survived the jumps')
    } finally {
      await daemon.stop()
    }
  })
})

describe('fault: a backend fails mid-copy (its disk fills)', () => {
  it('does not count the partial copy, leaves no partial CAR, and copies it once space returns', async () => {
    const { dir: root, cleanup } = tempDir()
    const nas = join(root, 'nas')
    mkdirSync(nas)
    // a 1 MiB "NAS": a 3 MiB pin cannot fit, so the copy fails part way through writing the CAR
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', nas])
    let daemon: DaemonProcess | undefined
    try {
      const home = join(root, 'data')
      writeDaemonConfig(home, {
        backends: [{ name: 'nas', type: 'filesystem', path: nas }],
        replication: { min_replicas: 2, max_replicas: 2, preferred: [], excluded: [] },
      })
      daemon = await spawnDaemon(home)
      const file = join(root, 'big.bin')
      writeRandomFile(file, 3 * MiB, 'mid-copy')
      const add = await cli(home, ['ipfs', 'add', '-Q', file])
      assert.equal(add.code, 0, add.stderr)
      const cid = add.stdout.trim()
      const sync = async () =>
        ((await json(daemon!.call('/replication/sync', { method: 'POST', json: { wait: true } }))) as Loose)
          .report
      const first = await sync()
      assert.ok(first.failed >= 1, `the copy fails: ${JSON.stringify(first)}`)
      const pin = await json(daemon.call(`/pins/${cid}`))
      const nasReplica = pin.info.replicas.find((r: Loose) => r.backend === 'nas')
      assert.notEqual(nasReplica?.state, 'verified', 'the partial copy does not count')
      assert.deepEqual(readdirSync(nas), [], 'no partial or temporary CAR is left on the backend')

      // space returns: the next pass copies it and verifies it
      execFileSync('mount', ['-o', 'remount,size=20m', nas])
      await sync()
      const after = await json(daemon.call(`/pins/${cid}`))
      assert.deepEqual(Object.fromEntries(after.info.replicas.map((r: Loose) => [r.backend, r.state])), {
        local: 'verified',
        nas: 'verified',
      })
      assert.deepEqual(readdirSync(nas), [`${cid}.car`])
      assert.equal(await daemon.stop(), 0)
    } finally {
      await daemon?.kill9()
      execFileSync('umount', ['-l', nas])
      cleanup()
    }
  })
})
