// Adversarial DAGs and a seeded mutation fuzz of the CAR and dag-pb/UnixFS decoders (hostile input,
// beyond test/hostile-input.test.ts): shared-subtree "billion laughs" DAGs (dag-pb and dag-cbor), a
// block linking to itself under a CID it does not hash to, malformed HAMT shards, and random
// mutations of a real add's CAR and blocks. Every operation must end quickly, in bounded memory,
// with a result or a clear IpfsKitError.
//
// Each DAG operation runs in a child process (this file, re-run with ADV_DAG_CHILD set), watched
// by a deadline and an RSS limit: a walk that never yields to the event loop (a synchronous or
// microtask-only loop) or runs out of memory fails the test naming the operation, never hangs it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { CarBlockIterator } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { importer } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { prng } from '../scripts/torture.ts'
import { LocalBackend } from '../src/backends/local.ts'
import { verifyAll } from '../src/blockstore/pack-store.ts'
import { add } from '../src/content/add.ts'
import { exportCar, importCar } from '../src/content/car.ts'
import { kuboImporterOptions } from '../src/content/cid-options.ts'
import { cat, get, ls, resolve, stat } from '../src/content/export.ts'
import { gc } from '../src/content/gc.ts'
import { decodeNode } from '../src/content/node.ts'
import { IpfsKitError } from '../src/errors.ts'
import { Repo, recordLocalPin } from '../src/repo.ts'
import { carStream } from '../src/server/gateway/car.ts'
import { resolvePath } from '../src/server/gateway/resolve.ts'
import { suiteTempDir } from './helpers/cli.ts'
import { carOf } from './helpers/fixtures.ts'

const HERE = fileURLToPath(import.meta.url)
const ROOT = dirname(dirname(HERE))
const POLYFILLS = join(ROOT, 'src', 'polyfills.ts')

/** Every DAG operation gets this long, and this much resident memory, before it counts as a defect. */
const DEADLINE_MS = 20_000
const RSS_LIMIT_MIB = 512
/** Iterations of the seeded mutation fuzz. */
const ITERATIONS = 500

// ---------------------------------------------------------------------------------------------
// Blocks, built by hand

interface Block {
  cid: CID
  bytes: Uint8Array
}

async function pbBlock(bytes: Uint8Array): Promise<Block> {
  return { cid: CID.createV0(await sha256.digest(bytes)), bytes }
}

async function rawBlock(bytes: Uint8Array): Promise<Block> {
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

async function cborBlock(value: unknown): Promise<Block> {
  const bytes = dagCbor.encode(value)
  return { cid: CID.createV1(dagCbor.code, await sha256.digest(bytes)), bytes }
}

/** A protobuf varint of any size (see `unixfsData`). */
function varint(n: bigint): number[] {
  const out: number[] = []
  while (n >= 128n) {
    out.push(Number(n & 127n) | 128)
    n >>= 7n
  }
  out.push(Number(n))
  return out
}

/**
 * A UnixFS Data message, encoded here rather than by `UnixFS.marshal()`: protons-runtime (under
 * ipfs-unixfs) writes any uint64 in [2^31, 2^32) as zero bytes (see the test of a 2 GiB add below),
 * and the doubling sizes of a billion-laughs file pass through that range.
 */
function unixfsData(
  f: { type: 'file'; blockSizes: bigint[] } | { type: 'hamt'; fanout: bigint; bitfield?: Uint8Array },
): Uint8Array {
  if (f.type === 'file') {
    const total = f.blockSizes.reduce((a, b) => a + b, 0n)
    return new Uint8Array([
      0x08,
      2,
      0x18,
      ...varint(total),
      ...f.blockSizes.flatMap((s) => [0x20, ...varint(s)]),
    ])
  }
  const bitfield = f.bitfield ?? new Uint8Array([0xff])
  // Type 5 (HAMTShard), Data (the bitfield), hashType murmur3-x64-64 (0x22), fanout
  return new Uint8Array([0x08, 5, 0x12, bitfield.length, ...bitfield, 0x28, 0x22, 0x30, ...varint(f.fanout)])
}

function pbNode(data: Uint8Array, links: { name?: string; cid: CID }[]): Uint8Array {
  return dagPb.encode(
    dagPb.prepare({ Data: data, Links: links.map((l) => ({ Hash: l.cid, Name: l.name ?? '', Tsize: 0 })) }),
  )
}

function dirNode(entries: { name: string; cid: CID }[]): Uint8Array {
  return pbNode(new UnixFS({ type: 'directory' }).marshal(), entries)
}

/** Writes blocks straight into a repo's store (a trusted writer: no hash check, as a corrupt disk could). */
async function store(dir: string, blocks: (Block | undefined)[]): Promise<void> {
  const repo = Repo.open(dir)
  try {
    const w = repo.blocks.writer()
    for (const b of blocks) if (b != null) await w.put(b.cid, b.bytes)
    await w.commit()
    w.close()
  } finally {
    await repo.close()
  }
}

const LEAF = Uint8Array.from({ length: 1024 }, (_, i) => i & 0xff)
const LEVELS = 40

/**
 * A dag-pb UnixFS file of 1 KiB × 2^40 = 2^50 bytes in 41 blocks: node i links node i-1 twice.
 * Returns its blocks (the leaf first) and the root.
 */
async function laughsPb(): Promise<{ blocks: Block[]; root: CID; size: bigint }> {
  const blocks: Block[] = [await rawBlock(LEAF)]
  let size = BigInt(LEAF.length)
  for (let i = 0; i < LEVELS; i++) {
    const child = blocks.at(-1)!.cid
    blocks.push(
      await pbBlock(
        pbNode(unixfsData({ type: 'file', blockSizes: [size, size] }), [{ cid: child }, { cid: child }]),
      ),
    )
    size *= 2n
  }
  return { blocks, root: blocks.at(-1)!.cid, size }
}

/** The same shape in dag-cbor: each node links the one below 10 times (2 fields and a list of 8). */
async function laughsCbor(): Promise<{ blocks: Block[]; root: CID }> {
  const blocks: Block[] = [await rawBlock(LEAF)]
  for (let i = 0; i < LEVELS; i++) {
    const c = blocks.at(-1)!.cid
    blocks.push(await cborBlock({ level: i, left: c, right: c, many: Array.from({ length: 8 }, () => c) }))
  }
  return { blocks, root: blocks.at(-1)!.cid }
}

// ---------------------------------------------------------------------------------------------
// The child side: one operation on a repo, its outcome as one JSON line on stdout

type Op =
  | { op: 'stat' | 'ls' | 'resolve'; repo: string; path: string }
  | { op: 'cat'; repo: string; path: string; offset?: number; length?: number; stopAfter?: number }
  | { op: 'get'; repo: string; path: string; out: string }
  | { op: 'exportCar'; repo: string; cid: string; into?: string }
  | { op: 'importCar'; repo: string; file: string }
  | { op: 'pinVerify'; repo: string; cid: string }
  | { op: 'gc'; repo: string; pin?: string }
  | { op: 'repoVerify'; repo: string }
  | { op: 'gatewayCar'; repo: string; cid: string; scope: 'all' | 'entity'; from?: number }
  | { op: 'fuzz'; repo: string; seeds: string; work: string; iterations: number; seed: number }

type Outcome =
  | { kind: 'ok'; value: Record<string, unknown>; ms: number; peakMiB: number }
  | {
      kind: 'error'
      project: boolean
      name: string
      code?: string
      message: string
      stack?: string
      ms: number
      peakMiB: number
    }
  | { kind: 'timeout' | 'memory' | 'crash'; ms: number; peakMiB: number; detail: string }

async function drainCount(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0
  for await (const c of it) n += c.length
  return n
}

async function carBlocks(
  parts: AsyncIterable<Uint8Array>,
): Promise<{ car: Uint8Array; blocks: number; distinct: number }> {
  const chunks: Uint8Array[] = []
  for await (const p of parts) chunks.push(p)
  const car = Buffer.concat(chunks)
  const seen = new Set<string>()
  let blocks = 0
  for await (const b of await CarBlockIterator.fromBytes(car)) {
    blocks++
    seen.add(b.cid.multihash.bytes.toString())
  }
  return { car, blocks, distinct: seen.size }
}

async function runOp(req: Op): Promise<Record<string, unknown>> {
  if (req.op === 'fuzz') return fuzz(req)
  const repo = Repo.open(req.repo)
  try {
    const blocks = repo.blocks
    switch (req.op) {
      case 'stat': {
        const s = await stat(blocks, req.path)
        return { type: s.type, size: s.size.toString(), blocks: s.blocks, cumulativeSize: s.cumulativeSize }
      }
      case 'ls': {
        const entries = await ls(blocks, req.path)
        return {
          count: entries.length,
          entries: entries.slice(0, 5).map((e) => ({ name: e.name, type: e.type, size: e.size.toString() })),
        }
      }
      case 'resolve': {
        const r = await resolve(blocks, req.path)
        return { cid: r.cid.toString(), kind: r.kind }
      }
      case 'cat': {
        const parts: Uint8Array[] = []
        let n = 0
        for await (const c of cat(blocks, req.path, { offset: req.offset, length: req.length })) {
          n += c.length
          if (req.stopAfter == null) parts.push(c.slice())
          else if (n >= req.stopAfter) break
        }
        return { bytes: n, hex: Buffer.concat(parts).toString('hex') }
      }
      case 'get':
        return { files: await get(blocks, req.path, req.out) }
      case 'exportCar': {
        const { car, blocks: n, distinct } = await carBlocks(exportCar(blocks, CID.parse(req.cid)))
        let imported: number | undefined
        if (req.into != null) {
          const other = Repo.open(req.into)
          try {
            imported = (
              await importCar(
                other,
                (async function* () {
                  yield car
                })(),
              )
            ).blocks
          } finally {
            await other.close()
          }
        }
        return { bytes: car.length, blocks: n, distinct, imported }
      }
      case 'importCar': {
        const car = readFileSync(req.file)
        const r = await importCar(
          repo,
          (async function* () {
            yield car
          })(),
        )
        return { blocks: r.blocks, roots: r.roots.map(String) }
      }
      case 'pinVerify': {
        const backend = new LocalBackend(repo, { dataDir: req.repo, log: () => {} })
        const r = await backend.verify(CID.parse(req.cid))
        return { ...r }
      }
      case 'gc': {
        if (req.pin != null) recordLocalPin(repo, req.pin)
        let marked = 0
        const r = await gc(repo, {
          onProgress: (p) => {
            marked = Math.max(marked, p.marked)
          },
        })
        return { ...r, marked }
      }
      case 'repoVerify': {
        let ok = 0
        const corrupt: string[] = []
        for (const r of verifyAll(blocks)) {
          if (r.ok) ok++
          else corrupt.push(`${r.cid}: ${r.reason}`)
        }
        return { ok, corrupt }
      }
      case 'gatewayCar': {
        const root = CID.parse(req.cid)
        const resolved = await resolvePath(blocks, root, [])
        const signal = new AbortController().signal
        const stream = carStream(
          blocks,
          resolved,
          {
            scope: req.scope,
            dups: false,
            entityBytes: req.from == null ? undefined : { from: req.from, to: undefined },
          },
          signal,
        )
        const { blocks: n, distinct, car } = await carBlocks(stream)
        return { bytes: car.length, blocks: n, distinct }
      }
    }
  } finally {
    await repo.close()
  }
}

function describeError(err: unknown): Omit<Extract<Outcome, { kind: 'error' }>, 'ms' | 'peakMiB'> {
  const e = err as Error & { code?: unknown }
  return {
    kind: 'error',
    project: err instanceof IpfsKitError,
    name: e?.constructor?.name ?? typeof err,
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: String(e?.message ?? err).slice(0, 500),
    stack: e?.stack?.split('\n').slice(0, 6).join('\n'),
  }
}

async function childMain(spec: string): Promise<void> {
  const started = performance.now()
  let line: unknown
  try {
    const value = await runOp(JSON.parse(spec) as Op)
    line = { kind: 'ok', value }
  } catch (err) {
    line = describeError(err)
  }
  const ms = Math.round(performance.now() - started)
  const peakMiB = Math.round(process.resourceUsage().maxRSS / 1024)
  const text = JSON.stringify({ ...(line as object), ms, peakMiB }, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v,
  )
  process.stdout.write(`RESULT ${text}\n`, () => process.exit(0))
}

// ---------------------------------------------------------------------------------------------
// The parent side

/** Peak resident memory of a process, from /proc (Linux), in MiB. */
function rssMiB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m == null ? undefined : Number(m[1]) / 1024
  } catch {
    return undefined
  }
}

/** Runs one operation in a child process: killed past `deadlineMs` or `rssLimitMiB` of resident memory. */
function isolated(
  req: Op,
  opts: { deadlineMs?: number; rssLimitMiB?: number; onLine?: (line: string) => void } = {},
): Promise<Outcome> {
  const deadlineMs = opts.deadlineMs ?? DEADLINE_MS
  const rssLimit = opts.rssLimitMiB ?? RSS_LIMIT_MIB
  const env: NodeJS.ProcessEnv = { ...process.env, ADV_DAG_CHILD: JSON.stringify(req) }
  delete env.NODE_TEST_CONTEXT
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', POLYFILLS, `--max-old-space-size=${rssLimit * 2}`, HERE],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const started = performance.now()
  let pending = ''
  let result: string | undefined
  let stderr = ''
  let peak = 0
  let killedFor: 'timeout' | 'memory' | undefined
  child.stdout.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n')
    pending = lines.pop()!
    for (const l of lines) {
      if (l.startsWith('RESULT ')) result = l.slice('RESULT '.length)
      else opts.onLine?.(l)
    }
  })
  child.stderr.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const watch = setInterval(() => {
    const rss = child.pid == null ? undefined : rssMiB(child.pid)
    if (rss != null) peak = Math.max(peak, rss)
    if (killedFor != null) return
    if (rss != null && rss > rssLimit) killedFor = 'memory'
    else if (performance.now() - started > deadlineMs) killedFor = 'timeout'
    if (killedFor != null) child.kill('SIGKILL')
  }, 100)
  return new Promise((resolvePromise, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearInterval(watch)
      const ms = Math.round(performance.now() - started)
      const peakMiB = Math.round(peak)
      if (killedFor === 'timeout') {
        resolvePromise({ kind: 'timeout', ms, peakMiB, detail: `still running after ${deadlineMs} ms` })
        return
      }
      if (killedFor === 'memory') {
        resolvePromise({ kind: 'memory', ms, peakMiB, detail: `resident memory passed ${rssLimit} MiB` })
        return
      }
      if (pending.startsWith('RESULT ')) result = pending.slice('RESULT '.length)
      if (result == null) {
        const tail = stderr
          .split('\n')
          .filter((l) => l.trim() !== '')
          .slice(-6)
          .join('\n')
        resolvePromise({ kind: 'crash', ms, peakMiB, detail: `exit ${code ?? signal}: ${tail}` })
        return
      }
      const out = JSON.parse(result) as Outcome
      resolvePromise({ ...out, peakMiB: Math.max(out.peakMiB, peakMiB) } as Outcome)
    })
  })
}

function show(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return `ok in ${o.ms} ms (peak ${o.peakMiB} MiB): ${JSON.stringify(o.value).slice(0, 300)}`
    case 'error':
      return `${o.project ? '' : 'NON-PROJECT '}${o.name}${o.code == null ? '' : ` ${o.code}`}: ${o.message} (${o.ms} ms)${o.project ? '' : `\n${o.stack}`}`
    default:
      return `${o.kind.toUpperCase()} after ${o.ms} ms (peak ${o.peakMiB} MiB): ${o.detail}`
  }
}

/** The operation finished in time and in bounded memory, with a result; returns it. */
function succeeded(label: string, o: Outcome): Record<string, unknown> {
  assert.ok(o.kind === 'ok', `${label}: expected a result, got ${show(o)}`)
  return o.value
}

/** The operation finished in time and in bounded memory, with a result or a clear IpfsKitError. */
function endedCleanly(label: string, o: Outcome, message?: RegExp): void {
  assert.ok(
    o.kind === 'ok' || (o.kind === 'error' && o.project),
    `${label}: expected a result or an IpfsKitError in time, got ${show(o)}`,
  )
  if (o.kind === 'error' && message != null) assert.match(o.message, message, label)
}

/** The operation failed in time with an IpfsKitError whose message matches. */
function failedClearly(label: string, o: Outcome, message: RegExp): void {
  assert.ok(o.kind === 'error' && o.project, `${label}: expected an IpfsKitError in time, got ${show(o)}`)
  assert.match(o.message, message, label)
}

function noPartials(dir: string): void {
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('partial')),
    [],
    'get leaves no partial output',
  )
}

/**
 * Runs every check of a test, each to its end, then fails once listing every check that failed:
 * one defect never hides the next.
 */
async function allOf(checks: Record<string, () => Promise<void>>): Promise<void> {
  const failures: string[] = []
  for (const [name, check] of Object.entries(checks)) {
    try {
      await check()
    } catch (err) {
      failures.push(`[${name}] ${(err as Error).message}`)
    }
  }
  assert.ok(
    failures.length === 0,
    `${failures.length} of ${Object.keys(checks).length} checks failed:\n${failures.join('\n---\n')}`,
  )
}

// ---------------------------------------------------------------------------------------------
// The seeded fuzz (runs in a child): mutated CARs and blocks of a real add

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff]
const BIG_VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x08],
  [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
]

function mutate(input: Uint8Array, rand: () => number): { bytes: Uint8Array; how: string[] } {
  let b = Buffer.from(input)
  const how: string[] = []
  const int = (n: number) => Math.floor(rand() * n)
  const rounds = 1 + int(3)
  for (let r = 0; r < rounds; r++) {
    const at = int(b.length + 1)
    switch (int(7)) {
      case 0: {
        const i = Math.min(at, b.length - 1)
        if (i >= 0) b[i]! ^= 1 << int(8)
        how.push(`flip@${i}`)
        break
      }
      case 1: {
        const i = Math.min(at, b.length - 1)
        if (i >= 0) b[i] = INTERESTING[int(INTERESTING.length)]!
        how.push(`set@${i}`)
        break
      }
      case 2: {
        const ins = Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)))
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)])
        how.push(`insert${ins.length}@${at}`)
        break
      }
      case 3: {
        const n = 1 + int(16)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + n)])
        how.push(`delete${n}@${at}`)
        break
      }
      case 4:
        b = b.subarray(0, at)
        how.push(`truncate@${at}`)
        break
      case 5: {
        const from = int(b.length + 1)
        const n = 1 + int(64)
        b = Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)])
        how.push(`dup${n}@${at}`)
        break
      }
      default: {
        const v = Buffer.from(BIG_VARINTS[int(BIG_VARINTS.length)]!)
        b = Buffer.concat([b.subarray(0, at), v, b.subarray(Math.min(b.length, at + v.length))])
        how.push(`varint@${at}`)
      }
    }
  }
  return { bytes: new Uint8Array(b), how }
}

/** Splits bytes into random chunks, as a socket or a file stream would deliver them. */
async function* randomChunks(bytes: Uint8Array, rand: () => number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(rand() * 512)
    yield bytes.subarray(i, i + n)
    i += n
  }
}

class HangError extends Error {}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError(`did not finish within ${ms} ms`)), ms)
  })
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer))
}

interface Finding {
  iteration: number
  op: string
  mutation: string
  kind: 'crash' | 'hang'
  error: string
  /** The function and file that threw (no line numbers). */
  where: string
}

async function fuzz(req: Extract<Op, { op: 'fuzz' }>): Promise<Record<string, unknown>> {
  const seeds = JSON.parse(readFileSync(req.seeds, 'utf8')) as {
    cars: string[]
    blocks: { bytes: string; names: string[] }[]
  }
  const cars = seeds.cars.map((h) => new Uint8Array(Buffer.from(h, 'hex')))
  const pbSeeds = seeds.blocks.map((b) => ({
    bytes: new Uint8Array(Buffer.from(b.bytes, 'hex')),
    names: b.names,
  }))
  const rand = prng(req.seed)
  const repo = Repo.open(req.repo)
  const findings: Finding[] = []
  const counts = { ok: 0, refused: 0 }
  const codes: Record<string, number> = {}
  let rssBefore = 0
  let iteration = 0
  const check = async (op: string, mutation: string, run: () => Promise<unknown>) => {
    try {
      await withDeadline(run(), 5000)
      counts.ok++
    } catch (err) {
      if (err instanceof IpfsKitError) {
        counts.refused++
        codes[err.code] = (codes[err.code] ?? 0) + 1
        return
      }
      const e = err as Error
      findings.push({
        iteration,
        op,
        mutation,
        kind: err instanceof HangError ? 'hang' : 'crash',
        error: `${e?.constructor?.name}: ${String(e?.message).slice(0, 200)}`,
        where: (e?.stack?.split('\n')[1]?.trim() ?? '').replace(/:\d+:\d+\)?$/, ''),
      })
    }
  }
  try {
    for (iteration = 0; iteration < req.iterations; iteration++) {
      if (iteration === 20) rssBefore = process.memoryUsage().rss
      // a line per iteration: if the child hangs synchronously, the parent knows where
      process.stdout.write(`ITER ${iteration}\n`)
      if (iteration % 2 === 0) {
        const { bytes, how } = mutate(cars[Math.floor(rand() * cars.length)]!, rand)
        const mutation = `car ${how.join(',')}`
        let roots: CID[] = []
        await check('importCar', mutation, async () => {
          roots = (await importCar(repo, randomChunks(bytes, rand), { pinRoots: rand() < 0.5 })).roots
        })
        for (const root of roots.slice(0, 2)) {
          await check('stat(car root)', mutation, () => stat(repo.blocks, root.toString()))
          await check('ls(car root)', mutation, () => ls(repo.blocks, root.toString()))
          await check('cat(car root)', mutation, () =>
            drainCount(cat(repo.blocks, root.toString(), { length: 1 << 16 })),
          )
        }
        continue
      }
      const seed = pbSeeds[Math.floor(rand() * pbSeeds.length)]!
      const { bytes, how } = mutate(seed.bytes, rand)
      const mutation = `block ${how.join(',')}`
      const block = await pbBlock(bytes)
      // the hostile block is stored under its true hash, as a peer could send it; and linked from a directory
      const parent = await pbBlock(dirNode([{ name: 'm', cid: block.cid }]))
      const w = repo.blocks.writer()
      await w.put(block.cid, block.bytes)
      await w.put(parent.cid, parent.bytes)
      await w.commit()
      w.close()
      const path = block.cid.toString()
      await check('decodeNode', mutation, async () => decodeNode(block.cid, block.bytes))
      await check('stat', mutation, () => stat(repo.blocks, path))
      await check('ls', mutation, () => ls(repo.blocks, path))
      await check('cat', mutation, () => drainCount(cat(repo.blocks, path, { length: 1 << 16 })))
      await check('cat(range)', mutation, () =>
        drainCount(cat(repo.blocks, path, { offset: 100, length: 300 })),
      )
      for (const name of seed.names.slice(0, 2))
        await check('resolve', mutation, () => resolve(repo.blocks, `${path}/${name}`))
      await check('exportCar', mutation, () => drainCount(exportCar(repo.blocks, block.cid)))
      await check('ls(parent)', mutation, () => ls(repo.blocks, parent.cid.toString()))
      await check('stat(parent)', mutation, () => stat(repo.blocks, parent.cid.toString()))
      const out = join(req.work, `get-${iteration}`)
      await check('get(parent)', mutation, () => get(repo.blocks, parent.cid.toString(), out))
      rmSync(out, { recursive: true, force: true })
    }
  } finally {
    await repo.close()
  }
  const rssGrowthMiB = Math.round((process.memoryUsage().rss - rssBefore) / (1 << 20))
  return { iterations: iteration, counts, codes, findings, rssGrowthMiB }
}

// ---------------------------------------------------------------------------------------------
// The tests

const CHILD = process.env.ADV_DAG_CHILD
if (CHILD != null) {
  void childMain(CHILD)
} else {
  describe('adversarial DAGs: shared subtrees, self links, malformed HAMTs, mutation fuzz', () => {
    const tmp = suiteTempDir()
    const dirOf = (name: string) => join(tmp.dir, name)

    describe('a billion-laughs dag-pb file: 2^50 bytes in 41 blocks', { concurrency: 4 }, () => {
      let root: CID
      let size: bigint
      before(async () => {
        const dag = await laughsPb()
        root = dag.root
        size = dag.size
        assert.equal(size, 1n << 50n)
        const garbage = await rawBlock(new TextEncoder().encode('no pin reaches this'))
        await store(dirOf('laughs'), dag.blocks)
        await store(dirOf('laughs-gc'), [...dag.blocks, garbage])
        // the same file under two names in a directory
        const dir = await pbBlock(
          dirNode([
            { name: 'one', cid: root },
            { name: 'two', cid: root },
          ]),
        )
        await store(dirOf('laughs'), [dir])
        writeFileSync(join(tmp.dir, 'laughs-dir'), dir.cid.toString())
      })

      it('stat reports the 2^50-byte size and counts each of the 41 blocks once', async () => {
        const v = succeeded(
          'stat',
          await isolated({ op: 'stat', repo: dirOf('laughs'), path: root.toString() }),
        )
        assert.equal(v.size, (1n << 50n).toString())
        assert.equal(v.blocks, 41)
        assert.equal(v.type, 'file')
      })

      it('cat of the last 10 bytes, and of 10 bytes across the middle, reads the right bytes', async () => {
        const end = succeeded(
          'cat (end)',
          await isolated({
            op: 'cat',
            repo: dirOf('laughs'),
            path: root.toString(),
            offset: Number(size) - 10,
            length: 10,
          }),
        )
        assert.equal(end.hex, Buffer.from(LEAF.subarray(1014)).toString('hex'))
        const middle = succeeded(
          'cat (middle)',
          await isolated({
            op: 'cat',
            repo: dirOf('laughs'),
            path: root.toString(),
            offset: Number(size / 2n) - 5,
            length: 10,
          }),
        )
        assert.equal(middle.hex, Buffer.concat([LEAF.subarray(1019), LEAF.subarray(0, 5)]).toString('hex'))
      })

      it('cat of the whole file streams in bounded memory until the reader stops (8 MiB)', async () => {
        const v = succeeded(
          'cat (stream, stop after 8 MiB)',
          await isolated({ op: 'cat', repo: dirOf('laughs'), path: root.toString(), stopAfter: 8 << 20 }),
        )
        assert.ok((v.bytes as number) >= 8 << 20)
      })

      it('ls lists the file, and a directory holding it twice, with its size', async () => {
        const file = succeeded(
          'ls (file)',
          await isolated({ op: 'ls', repo: dirOf('laughs'), path: root.toString() }),
        )
        assert.equal(file.count, 1)
        const dir = readFileSync(join(tmp.dir, 'laughs-dir'), 'utf8')
        const v = succeeded('ls (dir)', await isolated({ op: 'ls', repo: dirOf('laughs'), path: dir }))
        assert.equal(v.count, 2)
        assert.deepEqual(
          (v.entries as { size: string }[]).map((e) => e.size),
          [size.toString(), size.toString()],
        )
      })

      it('dag export writes each block once (41), and dag import of that CAR walks it once', async () => {
        const v = succeeded(
          'dag export + import',
          await isolated({
            op: 'exportCar',
            repo: dirOf('laughs'),
            cid: root.toString(),
            into: dirOf('laughs-import'),
          }),
        )
        assert.equal(v.blocks, 41, 'blocks in the CAR')
        assert.equal(v.distinct, 41)
        assert.equal(v.imported, 41)
      })

      it('a recursive pin (the local backend verify the daemon runs) visits each block once', async () => {
        const v = succeeded(
          'pin verify',
          await isolated({ op: 'pinVerify', repo: dirOf('laughs'), cid: root.toString() }),
        )
        assert.equal(v.ok, true, String(v.error))
        assert.equal(v.blocks, 41)
      })

      it('gc with the root pinned marks 41 blocks and removes only the unpinned one', async () => {
        const v = succeeded(
          'gc',
          await isolated({ op: 'gc', repo: dirOf('laughs-gc'), pin: root.toString() }),
        )
        assert.equal(v.removedBlocks, 1)
        assert.deepEqual(v.damaged, [])
        assert.ok((v.marked as number) <= 42, `marked ${v.marked}`)
      })

      it('repo verify re-hashes every block once', async () => {
        const v = succeeded('repo verify', await isolated({ op: 'repoVerify', repo: dirOf('laughs') }))
        assert.equal(v.ok, 42)
        assert.deepEqual(v.corrupt, [])
      })

      it('the gateway CAR (dag-scope=all, and entity-bytes at the end) writes each block once', async () => {
        const all = succeeded(
          'gateway CAR dag-scope=all',
          await isolated({ op: 'gatewayCar', repo: dirOf('laughs'), cid: root.toString(), scope: 'all' }),
        )
        assert.equal(all.blocks, 41)
        const tail = succeeded(
          'gateway CAR entity-bytes=-10:*',
          await isolated({
            op: 'gatewayCar',
            repo: dirOf('laughs'),
            cid: root.toString(),
            scope: 'entity',
            from: -10,
          }),
        )
        assert.ok((tail.blocks as number) <= 41)
      })

      it('the gateway CAR with dag-scope=entity (the whole file) walks each block once', async () => {
        const v = succeeded(
          'gateway CAR dag-scope=entity',
          await isolated({ op: 'gatewayCar', repo: dirOf('laughs'), cid: root.toString(), scope: 'entity' }),
        )
        assert.equal(v.blocks, 41)
      })
    })

    describe('dag-cbor nodes linking the same child many times', { concurrency: 4 }, () => {
      let root: CID
      let wide: CID
      let deepCbor: Block
      let deepJson: Block
      let junk: CID
      let junkDir: CID
      before(async () => {
        // a block that is not dag-pb at all, under its true hash, in a directory
        const junkBlock = await pbBlock(new Uint8Array([0xff, 0xff, 0xff, 0x0f]))
        const dir = await pbBlock(dirNode([{ name: 'junk', cid: junkBlock.cid }]))
        junk = junkBlock.cid
        junkDir = dir.cid
        await store(dirOf('junk-gc'), [junkBlock, dir])
        const dag = await laughsCbor()
        root = dag.root
        const leaf = dag.blocks[0]!
        // one node with 50,000 links to one leaf (~2 MiB)
        const w = await cborBlock({ all: Array.from({ length: 50_000 }, () => leaf.cid) })
        wide = w.cid
        // nested 1,000,000 deep (1 MiB): decoding it recursively overflows the stack
        const n = 1_000_000
        const cbor = new Uint8Array(n + 1).fill(0x81)
        cbor[n] = 0x01
        deepCbor = { cid: CID.createV1(dagCbor.code, await sha256.digest(cbor)), bytes: cbor }
        const json = new TextEncoder().encode(`${'['.repeat(n)}${']'.repeat(n)}`)
        deepJson = { cid: CID.createV1(dagJson.code, await sha256.digest(json)), bytes: json }
        await store(dirOf('cbor'), [...dag.blocks, w, deepCbor, deepJson])
        await store(dirOf('cbor-gc'), [...dag.blocks, w])
        await store(dirOf('cbor-deep-gc'), [deepCbor])
        writeFileSync(join(tmp.dir, 'deep.car'), await carOf([deepCbor.cid], [deepCbor]))
      })

      it('stat, dag export, pin verify and gc each visit the 41 blocks once', async () => {
        const s = succeeded(
          'stat',
          await isolated({ op: 'stat', repo: dirOf('cbor'), path: root.toString() }),
        )
        assert.equal(s.blocks, 41)
        const car = succeeded(
          'dag export + import',
          await isolated({
            op: 'exportCar',
            repo: dirOf('cbor'),
            cid: root.toString(),
            into: dirOf('cbor-import'),
          }),
        )
        assert.equal(car.blocks, 41)
        assert.equal(car.imported, 41)
        const pin = succeeded(
          'pin verify',
          await isolated({ op: 'pinVerify', repo: dirOf('cbor'), cid: root.toString() }),
        )
        assert.equal(pin.blocks, 41)
        const g = succeeded('gc', await isolated({ op: 'gc', repo: dirOf('cbor-gc'), pin: root.toString() }))
        assert.equal(g.removedBlocks, 1, 'the unpinned wide node')
      })

      it('a node with 50,000 links to one leaf exports 2 blocks', async () => {
        const car = succeeded(
          'dag export',
          await isolated({ op: 'exportCar', repo: dirOf('cbor'), cid: wide.toString() }),
        )
        assert.equal(car.blocks, 2)
        const s = succeeded(
          'stat',
          await isolated({ op: 'stat', repo: dirOf('cbor'), path: wide.toString() }),
        )
        assert.equal(s.blocks, 2)
      })

      it('a dag-cbor or dag-json block nested 10^6 deep: dag import refuses it, the walks fail clearly', async () => {
        const repo = dirOf('cbor')
        await allOf({
          'dag import': async () =>
            failedClearly(
              'dag import',
              await isolated({
                op: 'importCar',
                repo: dirOf('cbor-deep-import'),
                file: join(tmp.dir, 'deep.car'),
              }),
              /CAR/,
            ),
          'stat (dag-cbor)': async () =>
            failedClearly('stat', await isolated({ op: 'stat', repo, path: deepCbor.cid.toString() }), /./),
          'dag export (dag-cbor)': async () =>
            failedClearly(
              'dag export',
              await isolated({ op: 'exportCar', repo, cid: deepCbor.cid.toString() }),
              /./,
            ),
          'pin verify (dag-cbor)': async () => {
            const v = succeeded(
              'pin verify',
              await isolated({ op: 'pinVerify', repo, cid: deepCbor.cid.toString() }),
            )
            assert.equal(v.ok, false)
          },
          'stat (dag-json)': async () =>
            failedClearly('stat', await isolated({ op: 'stat', repo, path: deepJson.cid.toString() }), /./),
          'dag export (dag-json)': async () =>
            failedClearly(
              'dag export',
              await isolated({ op: 'exportCar', repo, cid: deepJson.cid.toString() }),
              /./,
            ),
        })
      })

      it('gc with a pinned DAG holding an undecodable block (nested 10^6 deep, or not dag-pb) completes, reporting it', async () => {
        await allOf({
          'dag-cbor nested 10^6 deep': async () => {
            const v = succeeded(
              'gc',
              await isolated({ op: 'gc', repo: dirOf('cbor-deep-gc'), pin: deepCbor.cid.toString() }),
            )
            assert.equal(v.removedBlocks, 0)
            assert.match(JSON.stringify(v.damaged), new RegExp(deepCbor.cid.toString()))
          },
          'invalid dag-pb under a pinned directory': async () => {
            const v = succeeded(
              'gc',
              await isolated({ op: 'gc', repo: dirOf('junk-gc'), pin: junkDir.toString() }),
            )
            assert.equal(v.removedBlocks, 0)
            assert.match(JSON.stringify(v.damaged), new RegExp(junk.toString()))
          },
        })
      })
    })

    describe('a block linking to itself under a CID it does not hash to', { concurrency: 4 }, () => {
      let file: CID
      let dir: CID
      let shard: CID
      before(async () => {
        // stored (by a trusted writer, as a corrupt disk would hold them) under CIDs of other bytes
        file = CID.createV0(await sha256.digest(new TextEncoder().encode('not the file node')))
        dir = CID.createV0(await sha256.digest(new TextEncoder().encode('not the directory node')))
        shard = CID.createV0(await sha256.digest(new TextEncoder().encode('not the shard node')))
        const leaf = await rawBlock(new TextEncoder().encode('leaf'))
        await store(dirOf('self'), [
          leaf,
          { cid: file, bytes: pbNode(unixfsData({ type: 'file', blockSizes: [10n] }), [{ cid: file }]) },
          { cid: dir, bytes: dirNode([{ name: 'loop', cid: dir }]) },
          {
            cid: shard,
            bytes: pbNode(unixfsData({ type: 'hamt', fanout: 256n }), [
              { name: '00', cid: shard },
              { name: '0Afoo', cid: leaf.cid },
            ]),
          },
        ])
      })

      it('cat refuses the endless file by its depth; stat, export and gc visit it once; verify names it', async () => {
        const repo = dirOf('self')
        await allOf({
          cat: async () =>
            failedClearly(
              'cat',
              await isolated({ op: 'cat', repo, path: file.toString() }),
              /deeper than|corrupt/,
            ),
          stat: async () =>
            assert.equal(
              succeeded('stat', await isolated({ op: 'stat', repo, path: file.toString() })).blocks,
              1,
            ),
          'dag export': async () =>
            assert.equal(
              succeeded('dag export', await isolated({ op: 'exportCar', repo, cid: file.toString() })).blocks,
              1,
            ),
          'pin verify': async () => {
            const pin = succeeded(
              'pin verify',
              await isolated({ op: 'pinVerify', repo, cid: file.toString() }),
            )
            assert.equal(pin.ok, false, 'a block that does not hash to its CID never verifies')
          },
          'repo verify': async () => {
            const v = succeeded('repo verify', await isolated({ op: 'repoVerify', repo }))
            assert.equal((v.corrupt as string[]).length, 3)
          },
        })
      })

      it('a directory containing itself: ls and resolve walk what they are asked; get fails clearly', async () => {
        const repo = dirOf('self')
        await allOf({
          ls: async () =>
            assert.equal(succeeded('ls', await isolated({ op: 'ls', repo, path: dir.toString() })).count, 1),
          'resolve 200 levels': async () => {
            const deep = `${dir}/${Array.from({ length: 200 }, () => 'loop').join('/')}`
            assert.equal(
              succeeded('resolve', await isolated({ op: 'resolve', repo, path: deep })).cid,
              dir.toString(),
            )
          },
          stat: async () =>
            assert.equal(
              succeeded('stat', await isolated({ op: 'stat', repo, path: dir.toString() })).blocks,
              1,
            ),
          get: async () => {
            mkdirSync(dirOf('self-get'), { recursive: true })
            const out = join(dirOf('self-get'), 'out')
            failedClearly('get', await isolated({ op: 'get', repo, path: dir.toString(), out }), /./)
            noPartials(dirOf('self-get'))
          },
        })
      })

      it('a HAMT shard containing itself: ls, resolve and get end with an answer or a clear error', async () => {
        const repo = dirOf('self')
        await allOf({
          ls: async () => endedCleanly('ls', await isolated({ op: 'ls', repo, path: shard.toString() })),
          'resolve a missing name': async () =>
            endedCleanly('resolve', await isolated({ op: 'resolve', repo, path: `${shard}/missing` })),
          get: async () => {
            mkdirSync(dirOf('self-hamt-get'), { recursive: true })
            const out = join(dirOf('self-hamt-get'), 'out')
            endedCleanly('get', await isolated({ op: 'get', repo, path: shard.toString(), out }))
            noPartials(dirOf('self-hamt-get'))
          },
        })
      })
    })

    describe('malformed HAMT shards (valid hashes)', { concurrency: 4 }, () => {
      const roots = new Map<string, CID>()
      before(async () => {
        const leaf = await rawBlock(new TextEncoder().encode('hello'))
        const blocks: Block[] = [leaf]
        const shardOf = async (fanout: bigint, links: { name: string; cid: CID }[]) => {
          const b = await pbBlock(pbNode(unixfsData({ type: 'hamt', fanout }), links))
          blocks.push(b)
          return b.cid
        }
        const entries = (fanout: bigint) => {
          const pad = Math.max(1, (fanout - 1n).toString(16).length)
          return ['a', 'b', 'c', 'd'].map((n, i) => ({
            name: `${i.toString(16).toUpperCase().padStart(pad, '0')}${n}`,
            cid: leaf.cid,
          }))
        }
        for (const [name, fanout] of [
          ['fanout 0', 0n],
          ['fanout 1', 1n],
          ['fanout 3', 3n],
          ['fanout 2^40', 1n << 40n],
          ['fanout 2^64-1', (1n << 64n) - 1n],
        ] as const)
          roots.set(name, await shardOf(fanout, entries(fanout)))
        roots.set(
          'duplicate names',
          await shardOf(256n, [
            { name: '0Afoo', cid: leaf.cid },
            { name: '1Bfoo', cid: leaf.cid },
          ]),
        )
        // a shard whose two sub-shard slots both hold the level below, 40 levels: 2^40 entries in 42 blocks
        let s = await shardOf(256n, [{ name: '0Afoo', cid: leaf.cid }])
        for (let i = 0; i < 40; i++)
          s = await shardOf(256n, [
            { name: '00', cid: s },
            { name: '01', cid: s },
          ])
        roots.set('shared sub-shards', s)
        // 5,000 nested sub-shards (a real 256-wide HAMT is at most 8 deep)
        let chain = await shardOf(256n, [{ name: '0Afoo', cid: leaf.cid }])
        for (let i = 0; i < 5000; i++) chain = await shardOf(256n, [{ name: '00', cid: chain }])
        roots.set('5,000 levels deep', chain)
        const plainDups = await pbBlock(
          dirNode([
            { name: 'foo', cid: leaf.cid },
            { name: 'foo', cid: leaf.cid },
          ]),
        )
        blocks.push(plainDups)
        roots.set('plain directory, duplicate names', plainDups.cid)
        await store(dirOf('hamt'), blocks)
      })

      for (const name of ['fanout 0', 'fanout 1', 'fanout 3', 'fanout 2^40', 'fanout 2^64-1']) {
        it(`${name}: ls, and resolve of a name present and one missing, end in time with an answer or a clear error`, async () => {
          const root = roots.get(name)!.toString()
          const repo = dirOf('hamt')
          await allOf({
            ls: async () => endedCleanly(`ls (${name})`, await isolated({ op: 'ls', repo, path: root })),
            'resolve the last name': async () =>
              endedCleanly(
                `resolve ${root}/d (${name})`,
                await isolated({ op: 'resolve', repo, path: `${root}/d` }),
              ),
            'resolve a missing name': async () =>
              endedCleanly(
                `resolve ${root}/missing (${name})`,
                await isolated({ op: 'resolve', repo, path: `${root}/missing` }),
              ),
          })
        })
      }

      for (const name of ['duplicate names', 'plain directory, duplicate names']) {
        it(`${name}: ls and resolve answer; get refuses clearly or writes one, never half`, async () => {
          const root = roots.get(name)!.toString()
          const repo = dirOf('hamt')
          await allOf({
            ls: async () => endedCleanly('ls', await isolated({ op: 'ls', repo, path: root })),
            resolve: async () =>
              endedCleanly('resolve', await isolated({ op: 'resolve', repo, path: `${root}/foo` })),
            get: async () => {
              const where = dirOf(`dups-get-${name.length}`)
              mkdirSync(where, { recursive: true })
              endedCleanly('get', await isolated({ op: 'get', repo, path: root, out: join(where, 'out') }))
              noPartials(where)
            },
          })
        })
      }

      it('shared sub-shards (2^40 entries in 42 blocks): ls and resolve end in time, in bounded memory', async () => {
        const root = roots.get('shared sub-shards')!.toString()
        const repo = dirOf('hamt')
        await allOf({
          ls: async () => endedCleanly('ls', await isolated({ op: 'ls', repo, path: root })),
          resolve: async () =>
            endedCleanly('resolve', await isolated({ op: 'resolve', repo, path: `${root}/foo` })),
          stat: async () =>
            assert.equal(succeeded('stat', await isolated({ op: 'stat', repo, path: root })).blocks, 42),
        })
      })

      it('5,000 levels of sub-shards: ls and resolve end with an answer or a clear error', async () => {
        const root = roots.get('5,000 levels deep')!.toString()
        const repo = dirOf('hamt')
        await allOf({
          ls: async () => endedCleanly('ls', await isolated({ op: 'ls', repo, path: root })),
          resolve: async () =>
            endedCleanly('resolve', await isolated({ op: 'resolve', repo, path: `${root}/foo` })),
        })
      })
    })

    it('seeded mutation fuzz: 500 mutated CARs and dag-pb blocks end in time, clearly, in bounded memory', async () => {
      // seeds: a real add (small chunks, so file nodes have links; a subdirectory; CIDv0 and CIDv1)
      const src = dirOf('fuzz-src')
      mkdirSync(join(src, 'sub'), { recursive: true })
      writeFileSync(join(src, 'a.txt'), 'alpha '.repeat(200))
      writeFileSync(join(src, 'b.bin'), Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 7) & 0xff)))
      writeFileSync(join(src, 'sub', 'c.txt'), 'gamma')
      const seedRepo = Repo.open(dirOf('fuzz-seeds'))
      const cars: string[] = []
      const blocks: { bytes: string; names: string[] }[] = []
      try {
        for (const opts of [{ cidVersion: 0 as const }, { cidVersion: 1 as const }]) {
          const entries = await add(
            seedRepo,
            { paths: [src] },
            { ...opts, recursive: true, chunker: 'size-128' },
          )
          const root = entries.find((e) => !e.path.includes('/'))!.cid
          const parts: Uint8Array[] = []
          for await (const p of exportCar(seedRepo.blocks, root)) parts.push(p)
          const car = Buffer.concat(parts)
          cars.push(car.toString('hex'))
          for await (const b of await CarBlockIterator.fromBytes(car)) {
            if (b.cid.code !== dagPb.code) continue
            const names = dagPb
              .decode(b.bytes)
              .Links.map((l) => l.Name ?? '')
              .filter((n) => n !== '')
            blocks.push({ bytes: Buffer.from(b.bytes).toString('hex'), names })
          }
        }
      } finally {
        await seedRepo.close()
      }
      assert.ok(blocks.length >= 6, `dag-pb seeds: ${blocks.length}`)
      const seeds = join(tmp.dir, 'fuzz-seeds.json')
      writeFileSync(seeds, JSON.stringify({ cars, blocks }))
      mkdirSync(dirOf('fuzz-work'), { recursive: true })
      let last = -1
      const o = await isolated(
        {
          op: 'fuzz',
          repo: dirOf('fuzz'),
          seeds,
          work: dirOf('fuzz-work'),
          iterations: ITERATIONS,
          seed: 0x1d5a,
        },
        {
          deadlineMs: 180_000,
          onLine: (l) => {
            if (l.startsWith('ITER ')) last = Number(l.slice(5))
          },
        },
      )
      const v = succeeded(`fuzz (last iteration started: ${last})`, o)
      const findings = v.findings as Finding[]
      // one line per distinct defect (operation, error class and where it was thrown), with a count
      // and the first iteration that showed it
      const distinct = new Map<string, { first: Finding; n: number }>()
      for (const f of findings) {
        const key = `${f.op} ${f.kind} ${f.error.split(': ')[0]} ${f.where}`
        const seen = distinct.get(key)
        if (seen == null) distinct.set(key, { first: f, n: 1 })
        else seen.n++
      }
      assert.deepEqual(
        [...distinct.values()].map(
          ({ first: f, n }) =>
            `${f.op} ${f.kind} x${n} (first #${f.iteration} [${f.mutation}]): ${f.error} ${f.where}`,
        ),
        [],
        `${findings.length} crashes/hangs in ${v.iterations} iterations, RSS growth ${v.rssGrowthMiB} MiB (outcomes ${JSON.stringify(v.counts)}, codes ${JSON.stringify(v.codes)})`,
      )
      assert.equal(v.iterations, ITERATIONS)
      assert.ok((v.rssGrowthMiB as number) < 200, `RSS grew ${v.rssGrowthMiB} MiB`)
    })

    it('a file of 2 GiB + 768 KiB: add writes its root size as a valid varint (Kubo-identical, decodable)', async () => {
      // the doubling sizes above pass through [2^31, 2^32); so does any file of 2 to 4 GiB
      const total = 2 ** 31 + 3 * 262_144
      const chunk = new Uint8Array(1 << 20)
      async function* content(): AsyncGenerator<Uint8Array> {
        for (let n = 0; n < total; n += chunk.length)
          yield chunk.subarray(0, Math.min(chunk.length, total - n))
      }
      let root: { cid: CID; bytes: Uint8Array } | undefined
      let last: CID | undefined
      const sink = {
        put: async (cid: CID, bytes: Uint8Array) => {
          if (cid.code === dagPb.code) root = { cid, bytes }
          return cid
        },
      }
      for await (const r of importer([{ path: 'f', content: content() }], sink, kuboImporterOptions({})))
        last = r.cid
      assert.ok(root != null && last != null && root.cid.equals(last))
      const data = dagPb.decode(root.bytes).Data!
      // a strict reading of the UnixFS message: field 1 type, 3 filesize, 4 blocksizes, nothing else
      let filesize: bigint | undefined
      for (let i = 0; i < data.length; ) {
        const tag = data[i++]!
        let v = 0n
        for (let shift = 0n; ; shift += 7n) {
          const byte = data[i++]!
          v |= BigInt(byte & 0x7f) << shift
          if ((byte & 0x80) === 0) break
        }
        assert.ok(
          [0x08, 0x18, 0x20].includes(tag),
          `unexpected field tag 0x${tag.toString(16)} in the root node`,
        )
        if (tag === 0x18) filesize = v
      }
      assert.equal(filesize, BigInt(total), 'the root node records the file size')
    })
  })
}
