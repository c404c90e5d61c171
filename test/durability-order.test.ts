import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { CID } from 'multiformats/cid'
import { BIN, run, suiteTempDir } from './helpers/cli.ts'
import { json, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import {
  durabilityViolations,
  lastBefore,
  parseStrace,
  requireStrace,
  type Syscall,
  straceArgs,
  syncOf,
  writeOf,
} from './helpers/strace.ts'

const MiB = 1 << 20

/** Files whose loss after a crash loses nothing acknowledged: runtime files and logs. */
const RUNTIME = /\/(api|api-token|daemon\.pid|daemon\.lock)(\.tmp-\d+)?$|\/logs\/|-shm$|-journal$/

/** The first call after `from` (and before `until`) matching each predicate in turn; fails naming the missing step. */
function chain(
  calls: readonly Syscall[],
  from: number,
  until: number,
  steps: [string, (s: Syscall) => boolean][],
): number[] {
  const at: number[] = []
  let pos = from
  for (const [what, pred] of steps) {
    const found = calls.find((s) => s.seq > pos && s.seq < until && pred(s))
    assert.ok(found != null, `no ${what} after #${pos} and before the acknowledgement #${until}`)
    at.push(found.seq)
    pos = found.seq
  }
  return at
}

/**
 * A kill -9 test cannot see a missing fsync (the page cache survives a killed process), so these
 * tests read the system calls under strace and check that what an acknowledgement promises is on
 * disk before it is sent: data written, fsynced, renamed into place, its directory fsynced.
 */
describe('durability order before every acknowledgement', () => {
  const tmp = suiteTempDir()
  before(() => requireStrace())

  it('`ipfs add` prints the CID only after the pack is fdatasynced, then the index rows and the pin row are committed', async () => {
    const home = join(tmp.dir, 'add')
    const file = join(tmp.dir, 'add.bin')
    writeRandomFile(file, 3 * MiB, 'durable-add')
    const trace = join(tmp.dir, 'add.trace')
    const child = spawn('strace', [...straceArgs(trace), process.execPath, BIN, 'ipfs', 'add', '-Q', file], {
      env: { ...process.env, IPFS_KIT_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    const [code] = (await once(child, 'exit')) as [number]
    assert.equal(code, 0)
    const cid = stdout.trim()
    const calls = parseStrace(readFileSync(trace, 'utf8'))
    const ack = lastBefore(
      calls,
      calls.length,
      'CID written to stdout',
      (s) => s.call.startsWith('write') && s.fd === 1 && s.data.startsWith(cid),
    )
    const durable = (p: string) => p.startsWith(home) && !RUNTIME.test(p)
    assert.deepEqual(durabilityViolations(calls, ack, durable), [])
    const pack = /\/blocks\/packs\/\d+\.pack$/
    const lastPackWrite = lastBefore(calls, ack, 'write to a pack file', writeOf(pack))
    chain(calls, lastPackWrite, ack, [
      ['fdatasync of the pack', syncOf(pack)],
      ['commit of the block index', syncOf(join(home, 'blocks', 'index.db-wal'))],
      ['commit of the pin', syncOf(join(home, 'state.db-wal'))],
    ])
    const created = calls.find((s) => s.call === 'openat' && pack.test(s.path))
    assert.ok(created?.flags.includes('O_EXCL'), 'a new pack file')
  })

  it('the daemon answers `pin add` after the pin is committed, and counts a filesystem copy only after the CAR, its rename and its directory are fsynced', async () => {
    const home = join(tmp.dir, 'daemon')
    const fs1 = join(tmp.dir, 'fs1')
    mkdirSync(fs1)
    writeConfig(home, {
      port: 0,
      backends: [{ name: 'fs1', type: 'filesystem', path: fs1 }],
      replication: { min_replicas: 2, max_replicas: 2 },
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    })
    const file = join(tmp.dir, 'pin.bin')
    writeRandomFile(file, 2 * MiB, 'durable-pin')
    const v0 = (await run(['ipfs', 'add', '-Q', file], { home })).stdout.toString().trim()
    // the same DAG under its CIDv1: a second pin the daemon must record and copy (see README)
    const cid = CID.parse(v0).toV1().toString()

    const trace = join(tmp.dir, 'daemon.trace')
    const tracer = spawn(
      'strace',
      [...straceArgs(trace), process.execPath, BIN, '--data-dir', home, 'daemon', 'start', '--foreground'],
      { env: { ...process.env, IPFS_KIT_HOME: home }, stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    tracer.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const apiFile = join(home, 'api')
    const deadline = Date.now() + 120_000
    while (!existsSync(apiFile)) {
      assert.equal(tracer.exitCode, null, `the daemon exited: ${stderr}`)
      assert.ok(Date.now() < deadline, `the daemon did not start under strace: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const url = readFileSync(apiFile, 'utf8').trim()
    const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
    const call = (path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(120_000),
      })
    try {
      const added = await call('/pins', { cid })
      assert.equal(added.status, 202)
      // sync until the copy on fs1 is counted (a pass already running may not have seen the pin)
      let verified: string[] = []
      while (!verified.includes('fs1') && Date.now() < deadline) {
        await call('/replication/sync', { wait: true })
        verified = (await json(call(`/pins/${cid}`))).info.verified
      }
      assert.deepEqual([...verified].sort(), ['fs1', 'local'])
    } finally {
      const pid = Number(readFileSync(join(home, 'daemon.pid'), 'utf8').split('\n')[0])
      process.kill(pid, 'SIGTERM')
      await once(tracer, 'exit')
    }

    const calls = parseStrace(readFileSync(trace, 'utf8'))
    // the 202 acknowledges the pin row; copies to fs1 (the CIDv0 pin's) may be in flight beside it
    const durable = (p: string) => p.startsWith(home) && !RUNTIME.test(p)
    const state = join(home, 'state.db-wal')
    const http = (status: string) => (s: Syscall) =>
      s.call.startsWith('write') && s.path.startsWith('TCP:') && s.data.startsWith(`HTTP/1.1 ${status}`)

    // POST /pins: the pin row is written and fsynced between the request and the 202
    const request = calls.find(
      (s) => s.call === 'read' && s.path.startsWith('TCP:') && s.data.startsWith('POST /pins'),
    )
    assert.ok(request != null, 'the POST /pins request is in the trace')
    const accepted = calls.find((s) => s.seq > request.seq && http('202')(s))
    assert.ok(accepted != null, 'the 202 answer is in the trace')
    assert.deepEqual(durabilityViolations(calls, accepted.seq, durable), [])
    chain(calls, request.seq, accepted.seq, [
      ['write of the pin row', writeOf(state)],
      ['commit of the pin row', syncOf(state)],
    ])

    // the copy: CAR written to a temp file, fsynced, renamed, directory fsynced, then the replica
    // is recorded, all before the answer that reported it verified (the last GET /pins/<cid>)
    const car = join(fs1, `${cid}.car`)
    const renamed = calls.find((s) => s.call.startsWith('rename') && s.to === car)
    assert.ok(renamed != null, `the CAR was renamed into place as ${car}`)
    const reported = lastBefore(calls, calls.length, 'the last 200 answer', http('200'))
    // that answer acknowledges the state and this CAR; the CIDv0 pin's copy may still be in flight
    // beside it (renamed, its directory not yet fsynced), which it does not acknowledge
    const acknowledged = (p: string) => (p.startsWith(home) && !RUNTIME.test(p)) || p.startsWith(car)
    assert.deepEqual(durabilityViolations(calls, reported, acknowledged), [])
    const lastCarWrite = lastBefore(calls, renamed.seq, 'write of the CAR', writeOf(renamed.path))
    chain(calls, lastCarWrite, reported, [
      ['fsync of the CAR', syncOf(renamed.path)],
      ['rename into place', (s) => s.seq === renamed.seq],
      ['fsync of the backend directory', syncOf(fs1)],
      ['write of the replica row', writeOf(state)],
      ['commit of the replica row', syncOf(state)],
    ])
  })
})
