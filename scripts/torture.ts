// Crash torture: a real daemon and real CLI processes on a temporary data directory, adding, pinning,
// unpinning, writing and removing VFS files and replicating to two filesystem backends at once, while `kill -9` hits the daemon and
// the CLI at random moments. After every crash it checks that nothing acknowledged was lost.
//
//   npm run torture                       # 200 cycles (TORTURE_CYCLES or --cycles N; --seed S to replay)
//   node --import tsx scripts/torture.ts --cycles 20 --keep
//
// An operation counts as acknowledged once the CLI printed its CID (`ipfs add`, `pin add`, `pin rm`,
// `vfs write --json`) or exited 0 (`vfs rm`)
// or the API answered 2xx, before the kill. Exits 1 if anything acknowledged was lost or a check failed.
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet'
import {
  cli,
  type DaemonProcess,
  markdownTable,
  sleep,
  spawnDaemon,
  tempFilesUnder,
  writeDaemonConfig,
} from './harness.ts'

export interface TortureOptions {
  cycles: number
  /** Parent of the run's temporary directory (default: the OS temp dir). */
  dir?: string
  /** Seeds the random choices (kill moments, sizes, operations) so a failing run can be replayed. */
  seed?: number
  /** Keep the data directory afterwards (it is printed). */
  keep?: boolean
  log?: (line: string) => void
  /** The daemon is killed between 300 ms and this long into each cycle's workload (default 2500). */
  maxKillMs?: number
  /** Read back a random half of each cycle's acknowledged adds after every crash (default true; all are read at the end). */
  readEachCycle?: boolean
}

export interface TortureReport {
  seed: number
  cycles: number
  daemonKills: number
  cliKills: number
  acknowledged: { adds: number; pins: number; unpins: number; vfsWrites: number; vfsRemoves: number }
  /**
   * Acknowledged pins missing after a crash; acknowledged unpins back after a crash; adds unreadable;
   * VFS files written but missing or different, or removed but back.
   */
  lost: { pins: number; unpins: number; adds: number; vfs: number }
  /** Restarts after which `vfs stat /` or `vfs ls` failed (the root must always be a whole tree). */
  vfsRootFailures: number
  /** `repo verify`: blocks that no longer re-hash to their CID. */
  corruptBlocks: number
  /** `PRAGMA integrity_check` answers other than ok, on state.db and blocks/index.db. */
  integrityFailures: number
  /** Restarts after which the published pin index never matched state.db (polled for 15 s). */
  indexMismatches: number
  /** Temporary files present after a restart (summed over restarts), and the most at one time. */
  /** Temp files seen after restarts (a copy may be in flight then), and after the final pass. */
  tempFiles: { total: number; max: number; atEnd: number }
  /** CAR files on the filesystem backends with no replica row in state.db, at the end. */
  orphanCars: number
  /** Verify passes (`POST /replication/sync {wait, verify}`) and the replicas they found failed. */
  verifyPasses: number
  replicaFailures: number
  /** Daemon starts that failed (each retried once). */
  startFailures: number
  /** The final SIGTERM stop exited 0. */
  cleanStop: boolean
  problems: string[]
  seconds: number
  dataDir: string
}

/** A small seeded PRNG (mulberry32): a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Expect = 'present' | 'absent' | 'unknown'

/** What the harness was told: per CID, whether an acknowledged operation says it is pinned. */
class Ledger {
  readonly expect = new Map<string, Expect>()
  readonly busy = new Set<string>()
  /** Acknowledged adds: CID -> sha256 of the file's bytes. */
  readonly contents = new Map<string, string>()
  /** Content added with --pin=false, not yet pinned: candidates for `pin add`. */
  readonly unpinned: string[] = []
  readonly cycleAdds: string[] = []
  /** VFS paths: sha256 of the acknowledged bytes, 'absent' after an acknowledged rm, 'unknown' while in doubt. */
  readonly vfs = new Map<string, string>()
  readonly vfsBusy = new Set<string>()
  /** VFS paths written or removed this cycle: checked after its crash (the rest by sample, all at the end). */
  readonly vfsTouched = new Set<string>()

  pick(rand: () => number, want: Expect): string | undefined {
    const candidates = [...this.expect].filter(([cid, e]) => e === want && !this.busy.has(cid))
    return candidates.length === 0 ? undefined : candidates[Math.floor(rand() * candidates.length)]![0]
  }
}

const MIN_REPLICAS = 2

/** Runs the torture; resolves with the counts (it does not throw on a lost operation: the report says). */
export async function torture(opts: TortureOptions): Promise<TortureReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31)
  const rand = prng(seed)
  const log = opts.log ?? (() => {})
  const started = Date.now()
  const root = mkdtempSync(join(opts.dir ?? tmpdir(), 'ipfs-kit-torture-'))
  const home = join(root, 'data')
  const work = join(root, 'work')
  const backends = [join(root, 'fs1'), join(root, 'fs2')]
  for (const d of [work, ...backends]) mkdirSync(d, { recursive: true })
  writeDaemonConfig(home, {
    health_check_interval: 2,
    replication_sync_interval: 3,
    backends: backends.map((path, i) => ({ name: `fs${i + 1}`, type: 'filesystem', path })),
    replication: { min_replicas: MIN_REPLICAS, max_replicas: 3, preferred: [], excluded: [] },
  })
  const r: TortureReport = {
    seed,
    cycles: 0,
    daemonKills: 0,
    cliKills: 0,
    acknowledged: { adds: 0, pins: 0, unpins: 0, vfsWrites: 0, vfsRemoves: 0 },
    lost: { pins: 0, unpins: 0, adds: 0, vfs: 0 },
    vfsRootFailures: 0,
    corruptBlocks: 0,
    integrityFailures: 0,
    indexMismatches: 0,
    tempFiles: { total: 0, max: 0, atEnd: 0 },
    orphanCars: 0,
    verifyPasses: 0,
    replicaFailures: 0,
    startFailures: 0,
    cleanStop: false,
    problems: [],
    seconds: 0,
    dataDir: home,
  }
  const problem = (msg: string) => {
    r.problems.push(msg)
    log(`PROBLEM: ${msg}`)
  }
  const ledger = new Ledger()
  let fileSeq = 0

  /** A CLI run that is killed at a random moment one time in five. */
  const crashyCli = async (args: string[]) => {
    const killAfterMs = rand() < 0.2 ? Math.floor(rand() * 800) : undefined
    const res = await cli(home, args, { killAfterMs, timeoutMs: 20_000 })
    if (res.killed) r.cliKills++
    return res
  }

  const start = async (): Promise<DaemonProcess> => {
    try {
      return await spawnDaemon(home)
    } catch (err) {
      r.startFailures++
      problem(`daemon start failed (retrying once): ${(err as Error).message}`)
      return spawnDaemon(home)
    }
  }

  let daemon = await start()
  try {
    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      const t0 = Date.now()
      await checkIndex(daemon, r, problem)
      countTempFiles([home, ...backends], r, log)
      if (cycle % 5 === 0) await verifyPass(daemon, r, problem)
      const t1 = Date.now()

      // the workload, until the daemon is killed
      let running = true
      const workers: Promise<void>[] = []
      const adder = async () => {
        while (running) {
          const pin = rand() < 0.7
          const size = 1 + Math.floor(rand() * 600 * 1024)
          const bytes = randomBytes(size)
          const file = join(work, `f${fileSeq++}.bin`)
          writeFileSync(file, bytes)
          const res = await crashyCli(['ipfs', 'add', '-Q', ...(pin ? [] : ['--pin=false']), file])
          rmSync(file, { force: true })
          const cid = res.stdout.trim()
          if (cid === '') continue
          r.acknowledged.adds++
          ledger.contents.set(cid, createHash('sha256').update(bytes).digest('hex'))
          ledger.cycleAdds.push(cid)
          if (pin) ledger.expect.set(cid, 'present')
          else ledger.unpinned.push(cid)
        }
      }
      const pinner = (via: 'api' | 'cli') => async () => {
        while (running) {
          const adding = ledger.unpinned.length > 0 && rand() < 0.6
          const cid = adding
            ? ledger.unpinned.splice(Math.floor(rand() * ledger.unpinned.length), 1)[0]!
            : ledger.pick(rand, 'present')
          if (cid == null) {
            await sleep(50)
            continue
          }
          ledger.busy.add(cid)
          ledger.expect.set(cid, 'unknown')
          let acked = false
          if (via === 'api') {
            try {
              const res = adding
                ? await daemon.call('/pins', {
                    method: 'POST',
                    json: { cid, name: `t${cycle}`, policy: { min_replicas: MIN_REPLICAS } },
                  })
                : await daemon.call(`/pins/${cid}`, { method: 'DELETE' })
              acked = res.ok
              if (!res.ok && running)
                problem(`${adding ? 'POST /pins' : 'DELETE /pins'} ${cid}: ${res.status}`)
            } catch {
              // the daemon was killed mid-call: not acknowledged
            }
          } else {
            const res = await crashyCli(
              adding ? ['pin', 'add', cid, '--min', String(MIN_REPLICAS)] : ['pin', 'rm', cid],
            )
            acked = res.code === 0 && res.stdout.includes(cid)
          }
          if (acked) {
            ledger.expect.set(cid, adding ? 'present' : 'absent')
            if (adding) r.acknowledged.pins++
            else r.acknowledged.unpins++
          }
          ledger.busy.delete(cid)
        }
      }
      // VFS files: written whole (create, parents, truncate), sometimes rewritten or removed; a CLI
      // write killed mid-way must leave the file as it was before (or absent), never half-written
      const vfsWriter = async () => {
        while (running) {
          const existing = [...ledger.vfs].filter(
            ([p, e]) => e !== 'absent' && e !== 'unknown' && !ledger.vfsBusy.has(p),
          )
          const roll = rand()
          if (existing.length > 0 && roll < 0.15) {
            const [path] = existing[Math.floor(rand() * existing.length)]!
            ledger.vfsBusy.add(path)
            ledger.vfsTouched.add(path)
            ledger.vfs.set(path, 'unknown')
            const res = await crashyCli(['vfs', 'rm', path])
            if (res.code === 0) {
              ledger.vfs.set(path, 'absent')
              r.acknowledged.vfsRemoves++
            }
            ledger.vfsBusy.delete(path)
            continue
          }
          const path =
            existing.length > 0 && roll < 0.3
              ? existing[Math.floor(rand() * existing.length)]![0]
              : `/c${cycle}/d${Math.floor(rand() * 3)}/v${fileSeq++}.bin`
          ledger.vfsBusy.add(path)
          ledger.vfsTouched.add(path)
          const bytes = randomBytes(1 + Math.floor(rand() * 400 * 1024))
          const file = join(work, `v${fileSeq++}.bin`)
          writeFileSync(file, bytes)
          const before = ledger.vfs.get(path)
          ledger.vfs.set(path, 'unknown')
          const res = await crashyCli([
            '--json',
            'vfs',
            'write',
            '--create',
            '--parents',
            '--truncate',
            path,
            file,
          ])
          rmSync(file, { force: true })
          if (res.code === 0 && res.stdout.includes('"Hash"')) {
            ledger.vfs.set(path, createHash('sha256').update(bytes).digest('hex'))
            r.acknowledged.vfsWrites++
          } else if (!res.killed && before != null) {
            ledger.vfs.set(path, before) // refused, not killed: the old file stands
          }
          ledger.vfsBusy.delete(path)
        }
      }
      const syncer = async () => {
        while (running) {
          await daemon.call('/replication/sync', { method: 'POST', json: {} }).catch(() => {})
          await sleep(300 + rand() * 700)
        }
      }
      workers.push(adder(), adder(), pinner('api')(), pinner('cli')(), vfsWriter(), syncer())
      await sleep(300 + Math.floor(rand() * ((opts.maxKillMs ?? 2500) - 300)))
      await daemon.kill9()
      r.daemonKills++
      running = false
      await Promise.all(workers)
      r.cycles = cycle
      const t2 = Date.now()

      // the daemon is down and every CLI process has exited: check what is on disk
      checkIntegrity(home, r, problem)
      checkPins(home, ledger, r, problem)
      await checkBlocks(home, r, problem)
      const sample = ledger.cycleAdds.splice(0).filter(() => rand() < 0.5 && opts.readEachCycle !== false)
      await checkContents(home, ledger, sample, r, problem)
      await checkVfs(home, ledger, r, problem, ledger.vfsTouched, rand)
      ledger.vfsTouched.clear()
      const t3 = Date.now()
      log(
        `cycle ${cycle}: ${r.acknowledged.adds} adds, ${r.acknowledged.pins} pins, ${r.acknowledged.unpins} unpins, ${r.acknowledged.vfsWrites} VFS writes, ${r.acknowledged.vfsRemoves} VFS removes acknowledged; ${r.cliKills} CLI kills; lost ${r.lost.pins + r.lost.unpins + r.lost.adds + r.lost.vfs}`,
      )
      daemon = await start()
      log(
        `  phases: index ${t1 - t0} ms, workload ${t2 - t1} ms, checks ${t3 - t2} ms, start ${Date.now() - t3} ms`,
      )
    }
    // the end: the restarted daemon republishes; every acknowledged add still reads back whole
    await checkIndex(daemon, r, problem)
    await verifyPass(daemon, r, problem)
    // after a whole pass nothing is in flight: any temp file left now is one nobody will remove
    r.tempFiles.atEnd = countTempFiles([home, ...backends], r, log)
    await checkContents(home, ledger, [...ledger.contents.keys()], r, problem)
    await checkVfs(home, ledger, r, problem)
    r.orphanCars = countOrphanCars(home, backends)
    r.cleanStop = (await daemon.stop()) === 0
    if (!r.cleanStop) problem(`the final SIGTERM stop did not exit 0: ${daemon.stderr().slice(-500)}`)
  } finally {
    await daemon.kill9()
    r.seconds = Math.round((Date.now() - started) / 1000)
    if (!opts.keep) rmSync(root, { recursive: true, force: true })
  }
  return r
}

function readonlyDb(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true })
}

function checkIntegrity(home: string, r: TortureReport, problem: (m: string) => void): void {
  for (const path of [join(home, 'state.db'), join(home, 'blocks', 'index.db')]) {
    const db = readonlyDb(path)
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[]
      const answer = rows.map((x) => x.integrity_check).join('; ')
      if (answer !== 'ok') {
        r.integrityFailures++
        problem(`integrity_check on ${path}: ${answer}`)
      }
    } finally {
      db.close()
    }
  }
}

/** Every acknowledged pin is in state.db; no acknowledged unpin is. */
function checkPins(home: string, ledger: Ledger, r: TortureReport, problem: (m: string) => void): void {
  const db = readonlyDb(join(home, 'state.db'))
  try {
    const pinned = new Set((db.prepare('SELECT cid FROM pins').all() as { cid: string }[]).map((p) => p.cid))
    for (const [cid, e] of ledger.expect) {
      if (e === 'present' && !pinned.has(cid)) {
        r.lost.pins++
        problem(`acknowledged pin ${cid} is missing from state.db`)
        ledger.expect.set(cid, 'unknown')
      } else if (e === 'absent' && pinned.has(cid)) {
        r.lost.unpins++
        problem(`acknowledged unpin ${cid} is pinned again`)
        ledger.expect.set(cid, 'unknown')
      }
    }
  } finally {
    db.close()
  }
}

async function checkBlocks(home: string, r: TortureReport, problem: (m: string) => void): Promise<void> {
  const res = await cli(home, ['--json', 'repo', 'verify'], { timeoutMs: 120_000 })
  try {
    const out = JSON.parse(res.stdout) as { verified: number; corrupt: { cid: string; reason: string }[] }
    r.corruptBlocks += out.corrupt.length
    for (const c of out.corrupt) problem(`repo verify: ${c.cid}: ${c.reason}`)
  } catch {
    r.corruptBlocks++
    problem(`repo verify failed (${res.code}): ${res.stderr.trim()}`)
  }
}

/** Reads acknowledged adds back through `ipfs cat` (four at a time) and compares their hashes. */
async function checkContents(
  home: string,
  ledger: Ledger,
  cids: string[],
  r: TortureReport,
  problem: (m: string) => void,
): Promise<void> {
  const queue = [...cids]
  const worker = async () => {
    for (let cid = queue.shift(); cid != null; cid = queue.shift()) {
      const res = await cli(home, ['ipfs', 'cat', cid], { timeoutMs: 60_000 })
      const got = createHash('sha256').update(res.stdoutBytes).digest('hex')
      if (res.code !== 0) {
        r.lost.adds++
        problem(`acknowledged add ${cid} is unreadable: ${res.stderr.trim()}`)
      } else if (got !== ledger.contents.get(cid)) {
        r.lost.adds++
        problem(`acknowledged add ${cid} reads back different bytes`)
      }
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
}

/**
 * The VFS after a crash: its root is a whole tree (`vfs ls -l` of every acknowledged file's
 * directory works), every acknowledged write reads back byte-identical (`vfs read`), and every
 * acknowledged rm stays removed. A write that was in doubt (its CLI killed) is learnt from disk.
 */
async function checkVfs(
  home: string,
  ledger: Ledger,
  r: TortureReport,
  problem: (m: string) => void,
  /** Check only these, those in doubt and a sample of 16 others (default: every path). */
  touched?: Set<string>,
  rand?: () => number,
): Promise<void> {
  const root = await cli(home, ['vfs', 'stat', '--hash', '/'], { timeoutMs: 60_000 })
  if (root.code !== 0) {
    r.vfsRootFailures++
    problem(`vfs stat / failed after a crash: ${root.stderr.trim()}`)
    return
  }
  const all = [...ledger.vfs]
  const queue =
    touched == null
      ? all
      : all.filter(
          ([p, e]) => touched.has(p) || e === 'unknown' || (rand?.() ?? 0) < 16 / Math.max(16, all.length),
        )
  const worker = async () => {
    for (let next = queue.shift(); next != null; next = queue.shift()) {
      const [path, expected] = next
      const res = await cli(home, ['vfs', 'read', path], { timeoutMs: 60_000 })
      if (expected === 'unknown') {
        // in doubt: whatever is there now is what the next check expects
        ledger.vfs.set(
          path,
          res.code === 0 ? createHash('sha256').update(res.stdoutBytes).digest('hex') : 'absent',
        )
      } else if (expected === 'absent') {
        if (res.code === 0) {
          r.lost.vfs++
          problem(`VFS ${path} was removed (acknowledged) but is back`)
          ledger.vfs.set(path, createHash('sha256').update(res.stdoutBytes).digest('hex'))
        }
      } else if (res.code !== 0) {
        r.lost.vfs++
        problem(`VFS ${path} (acknowledged write) is unreadable: ${res.stderr.trim()}`)
        ledger.vfs.set(path, 'absent')
      } else if (createHash('sha256').update(res.stdoutBytes).digest('hex') !== expected) {
        r.lost.vfs++
        problem(`VFS ${path} reads back other bytes than the acknowledged write`)
        ledger.vfs.set(path, createHash('sha256').update(res.stdoutBytes).digest('hex'))
      }
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
}

interface IndexRow {
  cid: string
  backend: string | null
  state: string
}

function expectedRows(home: string): string[] {
  const db = readonlyDb(join(home, 'state.db'))
  try {
    const rows = db
      .prepare(
        `SELECT p.cid AS cid, r.backend AS backend, COALESCE(r.state, p.status) AS state
         FROM pins p LEFT JOIN replicas r ON r.cid = p.cid`,
      )
      .all() as IndexRow[]
    return rows.map((x) => `${x.cid}|${x.backend ?? '-'}|${x.state}`).sort()
  } finally {
    db.close()
  }
}

async function publishedRows(home: string): Promise<string[] | undefined> {
  try {
    const file = await asyncBufferFromFile(join(home, 'index', 'pins.parquet'))
    const rows = (await parquetReadObjects({ file, columns: ['cid', 'backend', 'state'] })) as IndexRow[]
    return rows.map((x) => `${x.cid}|${x.backend ?? '-'}|${x.state}`).sort()
  } catch {
    return undefined
  }
}

/** After a restart, the published pin index must come to match state.db (polled: it follows within a second). */
async function checkIndex(
  daemon: DaemonProcess,
  r: TortureReport,
  problem: (m: string) => void,
): Promise<void> {
  const deadline = Date.now() + 15_000
  let last = ''
  while (Date.now() < deadline) {
    const before = expectedRows(daemon.home)
    const published = await publishedRows(daemon.home)
    const after = expectedRows(daemon.home)
    if (published != null && before.join() === after.join() && published.join() === after.join()) return
    const missing = after.filter((x) => !published?.includes(x)).slice(0, 3)
    const extra = published?.filter((x) => !after.includes(x)).slice(0, 3)
    last = `state.db has ${after.length} rows, the index ${published?.length ?? 'none'}; missing ${missing.join(', ')}; extra ${extra?.join(', ')}`
    await sleep(250)
  }
  r.indexMismatches++
  problem(`the pin index never matched state.db within 15 s: ${last}`)
}

function countTempFiles(dirs: string[], r: TortureReport, log: (l: string) => void): number {
  const found = dirs.flatMap((d) => tempFilesUnder(d))
  r.tempFiles.total += found.length
  r.tempFiles.max = Math.max(r.tempFiles.max, found.length)
  if (found.length > 0) log(`temp files after restart: ${found.join(', ')}`)
  return found.length
}

async function verifyPass(
  daemon: DaemonProcess,
  r: TortureReport,
  problem: (m: string) => void,
): Promise<void> {
  const res = await daemon.call('/replication/sync', {
    method: 'POST',
    json: { wait: true, verify: true },
    timeoutMs: 300_000,
  })
  r.verifyPasses++
  if (!res.ok) {
    problem(`verify pass answered ${res.status}: ${await res.text()}`)
    return
  }
  const { report } = (await res.json()) as { report: { failed: number } }
  r.replicaFailures += report.failed
  if (report.failed > 0) problem(`verify pass: ${report.failed} replica(s) failed`)
}

function countOrphanCars(home: string, backends: string[]): number {
  const db = readonlyDb(join(home, 'state.db'))
  try {
    const held = new Set(
      (db.prepare('SELECT cid, backend FROM replicas').all() as { cid: string; backend: string }[]).map(
        (x) => `${x.backend}/${x.cid}.car`,
      ),
    )
    let orphans = 0
    for (const [i, dir] of backends.entries()) {
      for (const name of readdirSync(dir)) {
        if (name.endsWith('.car') && !name.startsWith('.') && !held.has(`fs${i + 1}/${name}`)) orphans++
      }
    }
    return orphans
  } finally {
    db.close()
  }
}

/** The report as the table RELIABILITY.md records. */
export function formatReport(r: TortureReport): string {
  const lost = r.lost.pins + r.lost.unpins + r.lost.adds + r.lost.vfs
  return markdownTable(
    ['what', 'count'],
    [
      ['cycles (daemon start, workload, kill -9, checks)', r.cycles],
      ['kill -9 of the daemon', r.daemonKills],
      ['kill -9 of a CLI process', r.cliKills],
      ['acknowledged adds (`ipfs add` printed the CID)', r.acknowledged.adds],
      ['acknowledged pins (API 2xx or `pin add` printed)', r.acknowledged.pins],
      ['acknowledged unpins (API 2xx or `pin rm` printed)', r.acknowledged.unpins],
      [
        'acknowledged VFS writes / removes (`vfs write --json` printed, `vfs rm` exited 0)',
        `${r.acknowledged.vfsWrites} / ${r.acknowledged.vfsRemoves}`,
      ],
      [
        '**lost** (pins missing + unpins back + adds unreadable + VFS files missing, different or back; goal 0)',
        `**${lost}**`,
      ],
      ['restarts after which the VFS root was not a whole tree', r.vfsRootFailures],
      ['blocks that fail to re-hash (`repo verify`)', r.corruptBlocks],
      ['`PRAGMA integrity_check` not ok (state.db, blocks/index.db)', r.integrityFailures],
      ['restarts after which pins.parquet never matched state.db', r.indexMismatches],
      ['verify passes / replicas failed in them', `${r.verifyPasses} / ${r.replicaFailures}`],
      ['temp files found after restarts (total / most at once)', `${r.tempFiles.total} / ${r.tempFiles.max}`],
      ['temp files left after the final pass', r.tempFiles.atEnd],
      ['CARs on filesystem backends with no replica row (end)', r.orphanCars],
      ['daemon starts that failed', r.startFailures],
      ['final SIGTERM stop exited 0', r.cleanStop ? 'yes' : 'no'],
      ['wall time', `${r.seconds} s`],
    ],
  )
}

/** The checks that must hold, temp files and orphan CARs left after the final pass included. */
export function tortureFailures(r: TortureReport): string[] {
  const out: string[] = []
  const lost = r.lost.pins + r.lost.unpins + r.lost.adds + r.lost.vfs
  if (lost > 0) out.push(`${lost} acknowledged operation(s) lost`)
  if (r.vfsRootFailures > 0) out.push(`${r.vfsRootFailures} restart(s) with a broken VFS root`)
  if (r.corruptBlocks > 0) out.push(`${r.corruptBlocks} corrupt block(s)`)
  if (r.integrityFailures > 0) out.push(`${r.integrityFailures} integrity_check failure(s)`)
  if (r.indexMismatches > 0) out.push(`${r.indexMismatches} index mismatch(es)`)
  if (r.replicaFailures > 0) out.push(`${r.replicaFailures} replica(s) failed verification`)
  if (r.tempFiles.atEnd > 0) out.push(`${r.tempFiles.atEnd} temp file(s) left after the final pass`)
  if (r.orphanCars > 0) out.push(`${r.orphanCars} CAR(s) on a backend that no replica row names`)
  if (!r.cleanStop) out.push('the final stop was not clean')
  return out
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const flag = (name: string) => {
    const i = args.indexOf(name)
    return i === -1 ? undefined : args[i + 1]
  }
  const cycles = Number(flag('--cycles') ?? process.env.TORTURE_CYCLES ?? 200)
  const seedArg = flag('--seed') ?? process.env.TORTURE_SEED
  if (!(Number.isInteger(cycles) && cycles > 0)) throw new Error('--cycles must be a positive integer')
  const r = await torture({
    cycles,
    seed: seedArg == null ? undefined : Number(seedArg),
    dir: process.env.TORTURE_DIR,
    keep: args.includes('--keep'),
    log: (line) => console.error(line),
  })
  console.log(
    `\nCrash torture, seed ${r.seed} (replay: --seed ${r.seed}); load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}\n`,
  )
  console.log(formatReport(r))
  if (r.problems.length > 0) console.log(`\nProblems:\n${r.problems.map((p) => `- ${p}`).join('\n')}`)
  if (args.includes('--keep')) console.log(`\ndata directory kept: ${r.dataDir}`)
  const failures = tortureFailures(r)
  if (failures.length > 0) {
    console.error(`\ntorture FAILED: ${failures.join('; ')}`)
    process.exitCode = 1
  }
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: Error) => {
    console.error(err.stack ?? err.message)
    process.exit(1)
  })
}
