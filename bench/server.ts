// The server on :8888 against Kubo's gateway, same run: a large file through /ipfs/<cid> (time and
// peak RSS of each server), small-file requests/s (autocannon), and MCP tool calls/s over Streamable HTTP.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import autocannon from 'autocannon'
import { writeRandom } from './content.ts'
import { compare, mibps, rawTimes, table, timeArgv } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname
const KUBO = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')

interface Running {
  url: string
  pid: number
  stop(): Promise<void>
}

/** Starts a child and resolves once `ready` finds its URL in stdout/stderr. */
function startChild(argv: string[], env: NodeJS.ProcessEnv, ready: (out: string) => string | undefined) {
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise<Running>((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      const url = ready(out)
      if (url != null) {
        child.stdout.off('data', onData)
        child.stderr.off('data', onData)
        child.stdout.resume()
        child.stderr.resume()
        resolve({
          url,
          pid: child.pid!,
          stop: () =>
            new Promise<void>((r) => {
              child.once('exit', () => r())
              child.kill('SIGTERM')
            }),
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`)))
  })
}

/** Peak RSS (VmHWM) of a process in MiB, and a reset of that peak (Linux: clear_refs 5). */
const peakMib = (pid: number) =>
  Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
const resetPeak = (pid: number) => writeFileSync(`/proc/${pid}/clear_refs`, '5')

export async function serverBench(
  dir: string,
  sizeMb: number,
  runs: number,
  seconds: number,
): Promise<string> {
  const out = ['## Server (`bench/server.ts`)', '']
  if (!existsSync(KUBO))
    return [...out, `Kubo is not built (no ${KUBO}): the server section needs its gateway.`].join('\n')
  const home = join(dir, 'server-home')
  const kuboRepo = join(dir, 'server-kubo')
  const big = join(dir, 'server-big.bin')
  const small = join(dir, 'server-small.txt')
  writeRandom(big, sizeMb * 2 ** 20, 'server-bench')
  writeFileSync(small, 'x'.repeat(1024))
  const oursAdd = (f: string) =>
    execFileSync(process.execPath, [BIN, '--data-dir', home, 'ipfs', 'add', '-Q', f]).toString().trim()
  const kuboEnv = { IPFS_PATH: kuboRepo }
  execFileSync(KUBO, ['init', '--profile', 'test'], { env: { ...process.env, ...kuboEnv }, stdio: 'ignore' })
  const kuboAdd = (f: string) =>
    execFileSync(KUBO, ['add', '-Q', '--offline', f], { env: { ...process.env, ...kuboEnv } })
      .toString()
      .trim()
  const bigCid = oursAdd(big)
  const smallCid = oursAdd(small)
  if (kuboAdd(big) !== bigCid || kuboAdd(small) !== smallCid)
    throw new Error('Kubo and ipfs-kit disagree on CIDs')

  const ours = await startChild(
    [process.execPath, BIN, '--data-dir', home, 'server', 'start', '--foreground', '--port', '0'],
    {},
    (o) => /server listening at (http:\/\/\S+)/.exec(o)?.[1],
  )
  const kubo = await startChild([KUBO, 'daemon', '--offline'], kuboEnv, (o) => {
    const m = /Gateway server listening on \/ip4\/([\d.]+)\/tcp\/(\d+)/.exec(o)
    return m == null || !o.includes('Daemon is ready') ? undefined : `http://${m[1]}:${m[2]}`
  })
  try {
    const bytes = sizeMb * 2 ** 20
    const get = (url: string) => () => timeArgv(['curl', '-sf', '-o', '/dev/null', url])
    for (const s of [ours, kubo]) resetPeak(s.pid)
    const rows = [
      {
        name: `\`GET /ipfs/<cid>\` of ${sizeMb} MiB, ipfs-kit server`,
        run: get(`${ours.url}/ipfs/${bigCid}`),
      },
      {
        name: `\`GET /ipfs/<cid>\` of ${sizeMb} MiB, Kubo gateway (\`ipfs daemon --offline\`)`,
        run: get(`${kubo.url}/ipfs/${bigCid}`),
      },
    ]
    const stats = await compare('gateway', rows, runs)
    const peaks = [peakMib(ours.pid), peakMib(kubo.pid)]
    out.push(
      `### A ${sizeMb} MiB file through the gateway (curl to /dev/null, ${runs} runs after a warm-up, interleaved)`,
      '',
      table(
        ['contender', 'median', 'min', 'MiB/s (median)', 'server peak RSS'],
        rows.map((r, i) => [
          r.name,
          `${stats[i]!.median.toFixed(3)} s`,
          `${stats[i]!.min.toFixed(3)} s`,
          mibps(bytes, stats[i]!.median),
          `${peaks[i]!.toFixed(0)} MiB`,
        ]),
      ),
      '',
      `- ratio: ipfs-kit takes ${(stats[0]!.median / stats[1]!.median).toFixed(2)}x Kubo's time (goal <= 1)`,
      ...rawTimes(rows, stats),
      '',
    )

    const load = async (url: string) => {
      const r = await autocannon({ url, connections: 10, duration: seconds })
      return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx }
    }
    const smallOurs = await load(`${ours.url}/ipfs/${smallCid}`)
    const smallKubo = await load(`${kubo.url}/ipfs/${smallCid}`)
    out.push(
      `### A 1 KiB file, requests/s (autocannon, 10 connections, ${seconds} s each, client on the same cores)`,
      '',
      table(
        ['contender', 'requests/s', 'p99 latency', 'errors'],
        [
          ['ipfs-kit server', smallOurs.rps.toFixed(0), `${smallOurs.p99} ms`, smallOurs.errors],
          ['Kubo gateway', smallKubo.rps.toFixed(0), `${smallKubo.p99} ms`, smallKubo.errors],
        ],
      ),
      '',
      `- ratio ${(smallOurs.rps / smallKubo.rps).toFixed(2)} of Kubo's requests/s`,
      '',
    )

    out.push(...(await mcpCalls(ours.url, home, smallCid, seconds)))
    writeFileSync(join(home, 'config.json'), JSON.stringify({ node: { listen: ['/ip4/127.0.0.1/tcp/0'] } }))
    const daemon = await startChild(
      [process.execPath, BIN, '--data-dir', home, 'daemon', 'start', '--foreground', '--port', '0'],
      {},
      (o) => /daemon listening at (http:\/\/\S+)/.exec(o)?.[1],
    )
    try {
      out.push(...(await dashboardLoad(ours.url)))
    } finally {
      await daemon.stop()
    }
  } finally {
    await Promise.all([ours.stop(), kubo.stop()])
  }
  return out.join('\n')
}

/** `content_stat` of a small file over Streamable HTTP: one client in sequence, then 10 calls in flight. */
async function mcpCalls(url: string, home: string, cid: string, seconds: number): Promise<string[]> {
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  const client = new Client({ name: 'bench', version: '1' })
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  })
  await client.connect(transport)
  const callOnce = async () => {
    const r = await client.callTool({ name: 'content_stat', arguments: { path: cid } })
    if (r.isError) throw new Error(`content_stat failed: ${JSON.stringify(r.content)}`)
  }
  const measure = async (inFlight: number) => {
    const end = Date.now() + seconds * 1000
    let calls = 0
    const worker = async () => {
      while (Date.now() < end) {
        await callOnce()
        calls++
      }
    }
    const start = performance.now()
    await Promise.all(Array.from({ length: inFlight }, worker))
    return calls / ((performance.now() - start) / 1000)
  }
  try {
    await measure(1) // warm-up is the first second of the sequential run's JIT; measured again below
    const sequential = await measure(1)
    const parallel = await measure(10)
    return [
      `### MCP tool calls over Streamable HTTP (\`content_stat\` of a 1 KiB file, one session, ${seconds} s each)`,
      '',
      table(
        ['mode', 'calls/s'],
        [
          ['one call at a time', sequential.toFixed(0)],
          ['10 calls in flight', parallel.toFixed(0)],
        ],
      ),
      '',
    ]
  } finally {
    await transport.terminateSession().catch(() => {})
    await client.close()
  }
}

const CHROMIUM = process.env.IPFS_KIT_CHROMIUM ?? '/usr/bin/chromium'

/**
 * The dashboard in Chromium: bytes of the first load (every response body), time to the page's
 * first render of daemon data, and to the first live update over SSE ("live" shown).
 */
async function dashboardLoad(url: string): Promise<string[]> {
  const head = '### Dashboard first load (Chromium, headless, a new page each run, daemon running)'
  if (!existsSync(CHROMIUM)) return [head, '', `Chromium is not installed at ${CHROMIUM}: skipped.`, '']
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  try {
    const rows: (string | number)[][] = []
    for (let run = 1; run <= 3; run++) {
      const page = await browser.newPage()
      const sizes: Promise<number>[] = []
      page.on('requestfinished', (req) => sizes.push(req.sizes().then((z) => z.responseBodySize)))
      const start = performance.now()
      await page.goto(url, { waitUntil: 'load' })
      const loaded = performance.now() - start
      await page.getByTestId('daemon-state').filter({ hasText: 'daemon running' }).waitFor()
      const rendered = performance.now() - start
      await page.locator('.pill.ok', { hasText: 'live' }).waitFor()
      const live = performance.now() - start
      const bytes = (await Promise.all(sizes)).reduce((a, b) => a + b, 0)
      const requests = sizes.length
      await page.close()
      rows.push([
        run,
        requests,
        `${(bytes / 1024).toFixed(1)} KiB`,
        `${loaded.toFixed(0)} ms`,
        `${rendered.toFixed(0)} ms`,
        `${live.toFixed(0)} ms`,
      ])
    }
    return [
      head,
      '',
      table(
        ['run', 'requests', 'bytes (bodies)', 'load event', 'daemon data shown', 'first live event (SSE)'],
        rows,
      ),
      '',
    ]
  } finally {
    await browser.close()
  }
}
