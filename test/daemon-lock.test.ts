import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { exited } from './helpers/child.ts'
import { run, suiteTempDir } from './helpers/cli.ts'
import { startDaemon, writeConfig } from './helpers/daemon.ts'

/** A live process that has nothing to do with ipfs-kit; resolves whether it is still alive at the end. */
function bystander() {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' })
  return {
    pid: child.pid!,
    alive: () => child.exitCode == null && child.signalCode == null,
    async end() {
      if (child.exitCode != null || child.signalCode != null) return
      child.kill('SIGKILL')
      await once(child, 'exit')
    },
  }
}

const SRC = new URL('../src/', import.meta.url).pathname

/**
 * A starter: loads, says "ready", takes the lock on "go" (a line on stdin), says "won" or the
 * error, and holds what it won until stdin ends.
 */
const STARTER = `
import { createInterface } from 'node:readline'
import { acquireLock } from '${SRC}daemon/lifecycle.ts'
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
console.log('ready')
await lines.next()
let lock
try {
  lock = acquireLock(process.argv[2])
  console.log('won')
} catch (err) {
  console.log(err.message)
}
await lines.next()
lock?.release()
`

/**
 * A pid file as a killed daemon leaves it (this version's `<pid>\n<nonce>\n`, or an older version's
 * `<pid>\n`): its pid now belongs to someone else.
 */
function writeStaleFiles(home: string, pid: number, url = 'http://127.0.0.1:9/', legacy = false): void {
  mkdirSync(home, { recursive: true })
  writeFileSync(join(home, 'daemon.pid'), legacy ? `${pid}\n` : `${pid}\n${'ab'.repeat(16)}\n`)
  writeFileSync(join(home, 'api'), `${url}\n`)
}

describe('one daemon per data directory, by an OS lock', () => {
  const tmp = suiteTempDir()

  it('a stale pid file naming a live unrelated process: stop and status say no daemon runs, and nobody is signalled', async () => {
    for (const legacy of [true, false]) {
      await staleRound(join(tmp.dir, `stale-pid-${legacy}`), legacy)
    }
  })

  async function staleRound(home: string, legacy: boolean) {
    const sleeper = bystander()
    try {
      writeStaleFiles(home, sleeper.pid, undefined, legacy)
      writeFileSync(join(home, 'daemon.lock'), '')
      const stop = await run(['daemon', 'stop'], { home })
      assert.equal(stop.code, 1, stop.stderr)
      assert.match(stop.stderr, /no daemon is running on /)
      const status = await run(['daemon', 'status'], { home })
      assert.equal(status.code, 1)
      assert.match(status.stdout.toString(), /not running/)
      const restart = await run(['daemon', 'restart', '--port', '0'], { home })
      assert.equal(restart.code, 0, restart.stderr)
      assert.equal(sleeper.alive(), true, 'the unrelated process survived stop, status and restart')
      assert.equal((await run(['daemon', 'stop'], { home })).code, 0)
      assert.equal(sleeper.alive(), true)
    } finally {
      await sleeper.end()
    }
  }

  it('a lock held by a process that does not answer as the daemon is never signalled', async () => {
    const home = join(tmp.dir, 'unproven')
    const other = join(tmp.dir, 'other')
    const sleeper = bystander()
    // someone holds the lock (here: this test), the pid file names the sleeper, and the api file
    // points at another directory's daemon, which answers with its own pid and nonce
    const d = await startDaemon(other)
    mkdirSync(home, { recursive: true })
    const lock = new Database(join(home, 'daemon.lock'))
    lock.exec('BEGIN EXCLUSIVE')
    try {
      writeStaleFiles(home, sleeper.pid, d.url)
      const stop = await run(['daemon', 'stop'], { home })
      assert.equal(stop.code, 1)
      assert.match(
        stop.stderr,
        /not proven to be its daemon: the API at .* is another daemon's \(pid \d+\); nothing was signalled/,
      )
      assert.equal(sleeper.alive(), true)
      assert.equal((await d.call('/health')).status, 200, 'the other daemon was not signalled')
      const status = await run(['daemon', 'status'], { home })
      assert.equal(status.code, 1)
      assert.match(status.stdout.toString(), /not answering/)
    } finally {
      lock.close()
      await sleeper.end()
      await d.stop()
    }
  })

  it('two `daemon start`s at once: exactly one wins, the other says a daemon is already running', async () => {
    for (let round = 0; round < 3; round++) {
      const home = join(tmp.dir, `race-${round}`)
      writeConfig(home, { port: 0 })
      // as a killed older daemon left it: both starters find a stale lock
      writeFileSync(join(home, 'daemon.lock'), '999999\n')
      const [a, b] = await Promise.all([
        run(['daemon', 'start'], { home }),
        run(['daemon', 'start'], { home }),
      ])
      try {
        assert.deepEqual([a.code, b.code].sort(), [0, 1], `${a.stderr}\n${b.stderr}`)
        const loser = a.code === 1 ? a : b
        assert.match(loser.stderr, /already running on .* \(pid \d+\)/)
        const winner = JSON.parse((await run(['--json', 'daemon', 'status'], { home })).stdout.toString())
        assert.equal(winner.running, true)
        assert.match((a.code === 0 ? a : b).stdout.toString(), new RegExp(`\\(pid ${winner.pid}\\)`))
      } finally {
        assert.equal((await run(['daemon', 'stop'], { home })).code, 0)
      }
    }
  })

  it('starters released at the same instant on older lock files: one takes each, every other is told who holds it', async () => {
    // the CLI race above, tighter: each starter is loaded and waiting, and all take the lock at once,
    // so one empties the old file while another has just read it (it said "not a database")
    const DIRS = 8
    const script = join(tmp.dir, 'starter.mts')
    writeFileSync(script, STARTER)
    const starters = []
    for (let d = 0; d < DIRS; d++) {
      const home = join(tmp.dir, `instant-${d}`)
      mkdirSync(home, { recursive: true })
      writeFileSync(join(home, 'daemon.lock'), '999999\n')
      for (let s = 0; s < 3; s++) {
        const child = spawn(process.execPath, ['--import', 'tsx', script, home], {
          stdio: ['pipe', 'pipe', 'inherit'],
        })
        starters.push({
          home,
          child,
          lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](),
        })
      }
    }
    try {
      for (const s of starters) assert.equal((await s.lines.next()).value, 'ready')
      for (const s of starters) s.child.stdin.write('go\n')
      const said = await Promise.all(
        starters.map(async (s) => ({ home: s.home, line: (await s.lines.next()).value })),
      )
      for (let d = 0; d < DIRS; d++) {
        const home = join(tmp.dir, `instant-${d}`)
        const lines = said.filter((s) => s.home === home).map((s) => s.line as string)
        assert.equal(lines.filter((l) => l === 'won').length, 1, lines.join('\n'))
        for (const l of lines.filter((l) => l !== 'won'))
          assert.match(l, /^a daemon is already running on .* \(pid \d+\)/)
      }
    } finally {
      for (const s of starters) s.child.stdin.end()
      for (const s of starters) assert.equal(await exited(s.child), 0)
    }
  })

  it('`daemon start` right after a kill -9 of the daemon works, without any cleanup', async () => {
    const home = join(tmp.dir, 'killed')
    writeConfig(home, { port: 0 })
    const first = await run(['daemon', 'start'], { home })
    assert.equal(first.code, 0, first.stderr)
    const pid = Number(readFileSync(join(home, 'daemon.pid'), 'utf8').split('\n')[0])
    // no wait for the pid to disappear: the kernel drops the lock as the process dies
    process.kill(pid, 'SIGKILL')
    const again = await run(['daemon', 'start'], { home })
    try {
      assert.equal(again.code, 0, again.stderr)
      const status = JSON.parse((await run(['--json', 'daemon', 'status'], { home })).stdout.toString())
      assert.equal(status.running, true)
      assert.notEqual(status.pid, pid)
    } finally {
      assert.equal((await run(['daemon', 'stop'], { home })).code, 0)
    }
  })
})
