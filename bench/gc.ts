// gc of a large repository: `node --import tsx bench/gc.ts [blocks]` (default 1,000,000 block rows,
// half of them pinned). Rows are seeded straight into the block index and state.db (raw blocks,
// so marking needs no reads), then gc runs in this process as it does in the daemon while:
// - perf_hooks.monitorEventLoopDelay samples the event loop (an API request would wait that long);
// - a worker thread commits a one-block add every 20 ms on its own connection and records how
//   long each commit waited (a writer beside gc);
// - peak RSS (VmHWM) is read at the end.
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'

function cidOf(i: number): CID {
  return CID.createV1(
    raw.code,
    Digest.create(sha256.code, createHash('sha256').update(`block ${i}`).digest()),
  )
}

async function writerLoop(dir: string): Promise<void> {
  const { Repo } = await import('../src/repo.ts')
  const repo = Repo.open(dir)
  const waits: number[] = []
  let stop = false
  parentPort!.on('message', () => {
    stop = true
  })
  for (let i = 0; !stop; i++) {
    const bytes = new TextEncoder().encode(`writer beside gc ${i} ${Math.random()}`)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    const started = performance.now()
    const w = repo.blocks.writer()
    await w.put(cid, bytes)
    await w.commit()
    w.close()
    waits.push(performance.now() - started)
    await new Promise((r) => setTimeout(r, 20))
  }
  await repo.close()
  parentPort!.postMessage(waits)
}

async function main(): Promise<void> {
  await import('../src/polyfills.ts')
  const { Repo } = await import('../src/repo.ts')
  const { gc } = await import('../src/content/gc.ts')
  const blocks = Number(process.argv[2] ?? 1_000_000)
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'ipfs-kit-gc-'))
  try {
    mkdirSync(dir, { recursive: true })
    const seed = Repo.open(dir)
    const t0 = performance.now()
    const idx = seed.blocks.index.db
    idx.pragma('synchronous = OFF')
    const pack = seed.blocks.index.newPack()
    const ins = idx.prepare('INSERT INTO blocks (mh, cid, pack, offset, length) VALUES (?, ?, ?, ?, ?)')
    const pin = seed.db.prepare(
      "INSERT INTO pins (cid, type, name, status, created_at, updated_at) VALUES (?, 'recursive', NULL, 'pinned', ?, ?)",
    )
    const now = Date.now()
    idx.transaction(() => {
      for (let i = 0; i < blocks; i++) {
        const cid = cidOf(i)
        ins.run(cid.multihash.bytes, cid.bytes, pack, i * 64, 64)
      }
    })()
    seed.db.transaction(() => {
      for (let i = 0; i < blocks; i += 2) pin.run(cidOf(i).toString(), now, now)
    })()
    await seed.close()
    const seedS = (performance.now() - t0) / 1000

    const repo = Repo.open(dir)
    // tsx's hooks do not reach a worker's entry module on Node 20: the worker registers them itself
    const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(import.meta.url)}) })`
    const worker = new Worker(boot, { eval: true, workerData: { dir } })
    const loop = monitorEventLoopDelay({ resolution: 1 })
    loop.enable()
    // the longest stall of each phase, so a stall can be traced to the phase that made it
    const phaseLoop = monitorEventLoopDelay({ resolution: 1 })
    phaseLoop.enable()
    const phaseMax = new Map<string, number>()
    let phase = 'mark'
    const endPhase = () => {
      phaseMax.set(phase, Math.max(phaseMax.get(phase) ?? 0, phaseLoop.max))
      phaseLoop.reset()
    }
    const started = performance.now()
    let last = ''
    const result = await gc(repo, {
      onProgress: (p) => {
        if (p.phase !== phase) {
          endPhase()
          phase = p.phase
        }
        const line = `${p.phase} ${p.marked} ${p.removedBlocks}`
        if (process.env.BENCH_VERBOSE && line !== last)
          process.stderr.write(`[gc ${((performance.now() - started) / 1000).toFixed(1)} s] ${line}\n`)
        last = line
      },
    })
    const seconds = (performance.now() - started) / 1000
    loop.disable()
    endPhase()
    phaseLoop.disable()
    worker.postMessage('stop')
    const waits = await new Promise<number[]>((r) => worker.once('message', r))
    await worker.terminate()
    await repo.close()
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024
    waits.sort((a, b) => a - b)
    const ms = (ns: number) => (ns / 1e6).toFixed(1)
    console.log(
      [
        `### gc of ${blocks.toLocaleString('en')} blocks (${(blocks / 2).toLocaleString('en')} pinned), ${new Date().toISOString()}`,
        '',
        `seeded in ${seedS.toFixed(1)} s; gc: ${seconds.toFixed(2)} s, removed ${result.removedBlocks.toLocaleString('en')} blocks, deferred: ${result.deferred}`,
        '',
        '| measure | value | goal |',
        '| --- | --- | --- |',
        `| event loop delay p99 | ${ms(loop.percentile(99))} ms | <= 20 ms |`,
        `| event loop delay max | ${ms(loop.max)} ms (${[...phaseMax].map(([k, v]) => `${k} ${ms(v)}`).join(', ')}) | <= 100 ms |`,
        `| a writer's commit beside gc: median / max (${waits.length} commits) | ${waits[waits.length >> 1]?.toFixed(1)} / ${waits.at(-1)?.toFixed(1)} ms | max ~100 ms |`,
        `| peak RSS of the process (gc + the writer thread) | ${hwm.toFixed(0)} MiB | <= 256 MiB |`,
      ].join('\n'),
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMainThread) await main()
else await writerLoop((workerData as { dir: string }).dir)
