// Issue 9: the backends against the real programs, side by side in one run (BENCH_ONLY=backends):
// replicating a pin local -> kubo and local -> s3 through the daemon, against Kubo's own `dag import`
// of the same CAR; pins through our Pinning Service API against the same pins through IPFS Cluster's
// REST API; a file over bitswap Kubo -> ipfs-kit against Kubo -> Kubo.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Cluster, startCluster } from '../test/helpers/cluster.ts'
import { writeRandomFile } from '../test/helpers/fixtures.ts'
import { KUBO_BIN } from '../test/helpers/kubo.ts'
import { type KuboDaemon, startKuboDaemon } from '../test/helpers/kubo-daemon.ts'
import { type S3Server, startS3Server } from '../test/helpers/s3.ts'
import { compare, fmt, type Stats, table } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname

function kit(home: string, args: string[]): string {
  return execFileSync(process.execPath, [BIN, '--data-dir', home, ...args], { maxBuffer: 64 << 20 })
    .toString()
    .trim()
}

interface Daemon {
  url: string
  token: string
  pid: number
  call(path: string, init?: { method?: string; json?: unknown }): Promise<Response>
  stop(): void
}

async function daemon(home: string): Promise<Daemon> {
  kit(home, ['daemon', 'start', '--port', '0'])
  const url = readFileSync(join(home, 'api'), 'utf8').trim()
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  const call = (path: string, init: { method?: string; json?: unknown } = {}) =>
    fetch(`${url}${path}`, {
      method: init.method ?? (init.json == null ? 'GET' : 'POST'),
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.json != null ? { 'content-type': 'application/json' } : {}),
      },
      body: init.json == null ? undefined : JSON.stringify(init.json),
    })
  const status = (await (await call('/status')).json()) as { pid: number }
  return { url, token, pid: status.pid, call, stop: () => kit(home, ['daemon', 'stop']) }
}

/** Peak resident set of a live process (VmHWM), in MiB. */
function peakOf(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? Number.NaN) / 1024
}

async function until(what: string, probe: () => Promise<boolean>, ms = 600_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

function kubo(k: KuboDaemon, args: string[]): void {
  const r = spawnSync(KUBO_BIN, args, {
    env: { ...process.env, IPFS_PATH: k.repo },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  if (r.status !== 0) throw new Error(`ipfs ${args.join(' ')}: ${r.stderr}`)
}

const row = (name: string, s: Stats, bytes: number, extra = '') => [
  name,
  fmt(s.median),
  `${(bytes / 2 ** 20 / s.median).toFixed(0)} MiB/s`,
  extra,
]

export async function backendsBench(
  dir: string,
  sizeMb: number,
  runs: number,
  pins: number,
): Promise<string> {
  const out: string[] = ['### Backends (issue 9)', '']
  const bytes = sizeMb * 2 ** 20
  const file = join(dir, 'backends.bin')
  writeRandomFile(file, bytes, 'bench-backends')
  const home = join(dir, 'backends-kit')
  const cid = kit(home, ['ipfs', 'add', '-Q', '--cid-version=1', file])
  const car = join(dir, 'backends.car')
  writeFileSync(
    car,
    execFileSync(process.execPath, [BIN, '--data-dir', home, 'ipfs', 'dag', 'export', cid], {
      maxBuffer: 2 * bytes,
    }),
  )

  let target: KuboDaemon | undefined
  let s3: S3Server | undefined
  let source: KuboDaemon | undefined
  let reader: KuboDaemon | undefined
  let cluster: Cluster | undefined
  let d: Daemon | undefined
  try {
    // ---- replication through the daemon, against Kubo's own dag import of the same CAR
    target = await startKuboDaemon()
    s3 = await startS3Server()
    writeFileSync(
      join(home, 'config.json'),
      JSON.stringify({
        node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
        replication_sync_interval: 86_400,
        backends: [
          { name: 'kubo1', type: 'kubo', api_url: target.apiUrl, timeout_ms: 600_000 },
          {
            name: 'bucket1',
            type: 's3',
            endpoint: s3.endpoint,
            bucket: 'pins',
            create_bucket: true,
            access_key_id: s3.accessKey,
            secret_access_key: s3.secretKey,
          },
        ],
      }),
    )
    d = await daemon(home)
    const dd = d
    const t = target
    const replicate = (backend: string) => async () => {
      const started = performance.now()
      const res = await dd.call('/pins', {
        json: { cid, policy: { min_replicas: 2, max_replicas: 2, preferred: [backend] } },
      })
      if (!res.ok) throw new Error(`POST /pins: ${res.status} ${await res.text()}`)
      await until(`${cid} verified on ${backend}`, async () => {
        const p = (await (await dd.call(`/pins/${cid}`)).json()) as { info: { verified: string[] } }
        return p.info.verified.includes(backend)
      })
      return (performance.now() - started) / 1000
    }
    const unpin = async () => {
      const r = await dd.call(`/pins/${cid}`, { method: 'DELETE' })
      if (!r.ok && r.status !== 404) throw new Error(`DELETE /pins: ${r.status}`)
      kubo(t, ['repo', 'gc', '--quiet'])
    }
    const repl = await compare(
      'replicate',
      [
        { name: 'local -> kubo', setup: unpin, run: replicate('kubo1') },
        { name: 'local -> s3', setup: unpin, run: replicate('bucket1') },
        {
          name: 'Kubo dag import',
          setup: unpin,
          run: () => {
            const started = performance.now()
            kubo(t, ['dag', 'import', '--pin-roots=true', '--stats=false', car])
            const s = (performance.now() - started) / 1000
            kubo(t, ['pin', 'rm', cid])
            return s
          },
        },
      ],
      runs,
    )
    const daemonPeak = peakOf(d.pid)
    out.push(
      table(
        [`replicate a ${sizeMb} MiB pin (${runs} runs, median)`, 'time', 'throughput', 'note'],
        [
          row(
            'ipfs-kit daemon: local -> kubo',
            repl[0]!,
            bytes,
            'CAR streamed into dag import, read back with dag export and re-hashed',
          ),
          row(
            'ipfs-kit daemon: local -> s3 (versitygw)',
            repl[1]!,
            bytes,
            'multipart upload (8 MiB parts, 2 in flight), read back and re-hashed',
          ),
          row('Kubo `ipfs dag import` of the same CAR', repl[2]!, bytes, 'the import alone: no read-back'),
        ],
      ),
      '',
      `- ratios (Kubo's import time / ours): kubo ${(repl[2]!.median / repl[0]!.median).toFixed(2)}, s3 ${(repl[2]!.median / repl[1]!.median).toFixed(2)}`,
      `- the daemon's peak RSS over every replication run: ${daemonPeak.toFixed(0)} MiB (${sizeMb} MiB pin)`,
      '',
    )
    d.stop()
    d = undefined
    await target.close()
    target = undefined
    await s3.close()
    s3 = undefined

    // ---- small pins: our Pinning Service API against IPFS Cluster's REST API
    const small = join(dir, 'backends-small')
    mkdirSync(small, { recursive: true })
    for (let i = 0; i < pins; i++) writeFileSync(join(small, `f${i}`), `small pin ${i}`)
    const cids = kit(home, ['ipfs', 'add', '-r', '-q', '--pin=false', small]).split('\n').slice(0, pins)
    cluster = await startCluster(1)
    const peer = cluster.peers[0]!
    kubo(peer.kubo, ['add', '-r', '-q', '--pin=false', small])
    writeFileSync(join(home, 'config.json'), JSON.stringify({ node: { listen: ['/ip4/127.0.0.1/tcp/0'] } }))
    d = await daemon(home)
    const d2 = d
    const many = async (send: (cid: string) => Promise<Response>) => {
      const started = performance.now()
      let next = 0
      const worker = async () => {
        while (next < cids.length) {
          const c = cids[next++]!
          const res = await send(c)
          if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
          await res.arrayBuffer()
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      return (performance.now() - started) / 1000
    }
    const psaAccept = await many((c) => d2.call('/psa/pins', { json: { cid: c, name: c.slice(-8) } }))
    const psaStarted = performance.now() - psaAccept * 1000
    await until('every PSA pin pinned', async () => {
      const r = (await (await d2.call('/psa/pins?status=pinned&limit=1')).json()) as { count: number }
      return r.count >= cids.length
    })
    const psaPinned = (performance.now() - psaStarted) / 1000
    const clusterAccept = await many((c) =>
      fetch(`${peer.apiUrl}/pins/${c}?name=${c.slice(-8)}`, { method: 'POST' }),
    )
    const clusterStarted = performance.now() - clusterAccept * 1000
    await until('every cluster pin pinned', async () => {
      const text = await (await fetch(`${peer.apiUrl}/pins?filter=pinned&local=true`)).text()
      return text.split('\n').filter((l) => l.trim() !== '').length >= cids.length
    })
    const clusterPinned = (performance.now() - clusterStarted) / 1000
    out.push(
      table(
        [`${cids.length} small pins, 16 concurrent clients`, 'all accepted', 'requests/s', 'all pinned'],
        [
          [
            'ipfs-kit `POST /psa/pins` (content stored locally)',
            fmt(psaAccept),
            (cids.length / psaAccept).toFixed(0),
            fmt(psaPinned),
          ],
          [
            'IPFS Cluster 1.0.8 `POST /pins/<cid>` (one peer, content in its Kubo)',
            fmt(clusterAccept),
            (cids.length / clusterAccept).toFixed(0),
            fmt(clusterPinned),
          ],
        ],
      ),
      '',
      `- ratio of acceptance rates (ours / the cluster's): ${(clusterAccept / psaAccept).toFixed(2)}; of time to all pinned: ${(clusterPinned / psaPinned).toFixed(2)}`,
      '',
    )
    d.stop()
    d = undefined
    await cluster.close()
    cluster = undefined

    // ---- bitswap: Kubo -> ipfs-kit against Kubo -> Kubo
    source = await startKuboDaemon()
    const sourceCid = spawnSync(KUBO_BIN, ['add', '-Q', '--cid-version=1', file], {
      env: { ...process.env, IPFS_PATH: source.repo },
    })
      .stdout.toString()
      .trim()
    if (sourceCid !== cid) throw new Error(`Kubo added ${sourceCid}, ipfs-kit ${cid}`)
    reader = await startKuboDaemon()
    const r = reader
    const src = source
    kubo(r, ['swarm', 'connect', src.addrs[0]!])
    const fresh = join(dir, 'backends-fetch')
    let kitPeak = 0
    const swap = await compare(
      'bitswap',
      [
        {
          name: 'Kubo -> ipfs-kit',
          setup: () => rmSync(fresh, { recursive: true, force: true }),
          run: () => {
            const rss = join(dir, 'rss.txt')
            const started = performance.now()
            const x = spawnSync(
              '/usr/bin/time',
              [
                '-f',
                '%M',
                '-o',
                rss,
                process.execPath,
                BIN,
                '--data-dir',
                fresh,
                'ipfs',
                'cat',
                '--peer',
                src.addrs[0]!,
                cid,
              ],
              { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 20 },
            )
            const s = (performance.now() - started) / 1000
            if (x.status !== 0) throw new Error(`ipfs-kit cat --peer: ${x.stderr}`)
            kitPeak = Math.max(kitPeak, Number(readFileSync(rss, 'utf8').trim().split('\n').at(-1)) / 1024)
            return s
          },
        },
        {
          name: 'Kubo -> Kubo',
          setup: () => kubo(r, ['repo', 'gc', '--quiet']),
          run: () => {
            const started = performance.now()
            kubo(r, ['cat', cid])
            return (performance.now() - started) / 1000
          },
        },
      ],
      runs,
    )
    out.push(
      table(
        [
          `fetch a ${sizeMb} MiB file over bitswap (loopback, ${runs} runs, median)`,
          'time',
          'throughput',
          'note',
        ],
        [
          row(
            '`ipfs-kit ipfs cat --peer <Kubo>` (fresh data dir)',
            swap[0]!,
            bytes,
            `peak RSS ${kitPeak.toFixed(0)} MiB (the whole node: the CLI is the node)`,
          ),
          row(
            'Kubo `ipfs cat` from another Kubo (after repo gc)',
            swap[1]!,
            bytes,
            'Kubo 0.41, both on loopback',
          ),
        ],
      ),
      '',
      `- ratio (Kubo -> Kubo time / Kubo -> ipfs-kit time): ${(swap[1]!.median / swap[0]!.median).toFixed(2)}`,
    )
  } finally {
    d?.stop()
    await target?.close()
    await s3?.close()
    await cluster?.close()
    await source?.close()
    await reader?.close()
  }
  return out.join('\n')
}
