import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { until } from './fixtures.ts'
import { type KuboDaemon, startKuboDaemon } from './kubo-daemon.ts'
import { freePort } from './s3.ts'

const run = promisify(execFile)

const BIN_DIR = join(homedir(), '.cache', 'ipfs-kit', 'bin')
/** ipfs-cluster-service and ipfs-cluster-ctl v1.0.8, built by scripts/install-go-tools.sh. */
export const CLUSTER_SERVICE_BIN =
  process.env.IPFS_KIT_CLUSTER_SERVICE_BIN ?? join(BIN_DIR, 'ipfs-cluster-service')
export const CLUSTER_CTL_BIN = process.env.IPFS_KIT_CLUSTER_CTL_BIN ?? join(BIN_DIR, 'ipfs-cluster-ctl')

/** One IPFS Cluster peer with its own Kubo, all on loopback. */
export interface ClusterPeer {
  readonly dir: string
  readonly id: string
  /** The REST API, e.g. http://127.0.0.1:41234 */
  readonly apiUrl: string
  /** The IPFS proxy (Kubo's RPC through the cluster). */
  readonly proxyUrl: string
  /** The cluster swarm address, ending in /p2p/<id>. */
  readonly addr: string
  readonly kubo: KuboDaemon
  child: ChildProcess | undefined
  /** `ipfs-cluster-ctl ARGS` against this peer: stdout. */
  ctl(args: string[]): Promise<string>
  /** Stops this peer's cluster process (its Kubo keeps running). */
  stop(): Promise<void>
  /** Starts the cluster process again (same config, same ports). */
  start(): Promise<void>
}

export interface Cluster {
  readonly peers: ClusterPeer[]
  close(): Promise<void>
}

/**
 * Starts `n` IPFS Cluster peers (CRDT consensus, one shared secret), each with its own Kubo daemon
 * (startKuboDaemon: offline, loopback), listening on 127.0.0.1 and free ports, no mDNS; the peers
 * after the first bootstrap to it. Monitoring intervals are short (1-2 s) so that a stopped peer shows
 * within seconds. Fails (never skips) when the programs are not built.
 */
export async function startCluster(n: number): Promise<Cluster> {
  for (const bin of [CLUSTER_SERVICE_BIN, CLUSTER_CTL_BIN]) {
    assert.ok(
      existsSync(bin),
      `${bin} is not installed: run scripts/install-go-tools.sh ipfs-cluster (needs Go)`,
    )
  }
  const secret = randomBytes(32).toString('hex')
  const peers: ClusterPeer[] = []
  const cluster: Cluster = {
    peers,
    async close() {
      for (const p of peers) {
        await p.stop()
        await p.kubo.close()
        rmSync(p.dir, { recursive: true, force: true })
      }
    },
  }
  try {
    for (let i = 0; i < n; i++) peers.push(await startPeer(i, secret, peers[0]?.addr))
  } catch (err) {
    await cluster.close()
    throw err
  }
  // every peer sees every other
  const deadline = Date.now() + 30_000
  for (const p of peers) {
    for (;;) {
      const seen = (await p.ctl(['--enc', 'json', 'peers', 'ls']).catch(() => ''))
        .split('\n')
        .filter((l) => l.trim().startsWith('{') && !l.includes('"error":"'))
      if (seen.length >= n) break
      if (Date.now() > deadline) throw new Error(`cluster peer ${p.id} sees ${seen.length} of ${n} peers`)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
  // every Kubo connected to every other now: a peer whose Kubo must fetch a pin's blocks from another
  // finds them over bitswap at once (the cluster's own swarm connect comes connect_swarms_delay after
  // start, and a CI machine under load reached the first pin before it: the pin then waited for the
  // cluster's 2-minute pin_timeout)
  // (each connection is checked in `swarm peers`, and retried: a connect that failed quietly left the
  // second peer's pin waiting for blocks no one offered it, and a sync hung for 2 minutes in CI)
  for (const a of peers) {
    for (const b of peers) {
      if (a === b) continue
      const id = b.kubo.addrs[0]?.split('/p2p/')[1] ?? ''
      await until(
        `Kubo of cluster peer ${a.id} connected to Kubo of ${b.id}`,
        async () => {
          for (const addr of b.kubo.addrs) await a.kubo.ipfs(['swarm', 'connect', addr]).catch(() => {})
          const connected = await a.kubo.ipfs(['swarm', 'peers']).catch(() => '')
          return connected.includes(id) ? true : undefined
        },
        30_000,
      )
    }
  }
  return cluster
}

async function startPeer(i: number, secret: string, bootstrap: string | undefined): Promise<ClusterPeer> {
  const kubo = await startKuboDaemon()
  const dir = mkdtempSync(join(tmpdir(), `kit-cluster${i}-`))
  await run(CLUSTER_SERVICE_BIN, ['--config', dir, 'init', '--consensus', 'crdt', '--force'], {
    env: { ...process.env, CLUSTER_SECRET: secret },
  })
  const [swarm, api, proxy, psa] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const file = join(dir, 'service.json')
  const c = JSON.parse(readFileSync(file, 'utf8'))
  c.cluster.peername = `peer${i}`
  c.cluster.listen_multiaddress = [`/ip4/127.0.0.1/tcp/${swarm}`]
  c.cluster.enable_relay_hop = false
  c.cluster.mdns_interval = '0s'
  c.cluster.monitor_ping_interval = '1s'
  c.cluster.peer_watch_interval = '1s'
  c.cluster.dial_peer_timeout = '1s'
  c.api.restapi.http_listen_multiaddress = `/ip4/127.0.0.1/tcp/${api}`
  c.api.ipfsproxy.listen_multiaddress = `/ip4/127.0.0.1/tcp/${proxy}`
  c.api.ipfsproxy.node_multiaddress = urlToMultiaddr(kubo.apiUrl)
  c.api.pinsvcapi.http_listen_multiaddress = `/ip4/127.0.0.1/tcp/${psa}`
  c.ipfs_connector.ipfshttp.node_multiaddress = urlToMultiaddr(kubo.apiUrl)
  c.ipfs_connector.ipfshttp.connect_swarms_delay = '1s'
  c.monitor.pubsubmon.check_interval = '1s'
  for (const inf of Object.values(c.informer) as { metric_ttl?: string }[])
    if (inf.metric_ttl != null) inf.metric_ttl = '2s'
  writeFileSync(file, JSON.stringify(c, null, 2))
  const id = JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')).id as string
  const apiUrl = `http://127.0.0.1:${api}`
  let log = ''
  const peer: ClusterPeer = {
    dir,
    id,
    apiUrl,
    proxyUrl: `http://127.0.0.1:${proxy}`,
    addr: `/ip4/127.0.0.1/tcp/${swarm}/p2p/${id}`,
    kubo,
    child: undefined,
    async ctl(args) {
      const { stdout } = await run(CLUSTER_CTL_BIN, ['--host', `/ip4/127.0.0.1/tcp/${api}`, ...args], {
        maxBuffer: 64 << 20,
      })
      return stdout.trim()
    },
    async stop() {
      const child = peer.child
      peer.child = undefined
      if (child == null || child.exitCode != null || child.signalCode != null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await once(child, 'exit')
      clearTimeout(t)
    },
    async start() {
      const args = ['--config', dir, 'daemon']
      if (bootstrap != null) args.push('--bootstrap', bootstrap)
      const child = spawn(CLUSTER_SERVICE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      peer.child = child
      child.stdout.on('data', (b) => (log += b))
      child.stderr.on('data', (b) => (log += b))
      const deadline = Date.now() + 60_000
      for (;;) {
        if (child.exitCode != null) throw new Error(`ipfs-cluster-service exited: ${log.slice(-2000)}`)
        const ok = await fetch(`${apiUrl}/id`)
          .then((r) => r.ok)
          .catch(() => false)
        if (ok) return
        if (Date.now() > deadline) throw new Error(`ipfs-cluster-service did not answer: ${log.slice(-2000)}`)
        await new Promise((r) => setTimeout(r, 200))
      }
    },
  }
  await peer.start()
  return peer
}

/** http://127.0.0.1:5001 → /ip4/127.0.0.1/tcp/5001 */
function urlToMultiaddr(url: string): string {
  const u = new URL(url)
  return `/ip4/${u.hostname}/tcp/${u.port}`
}
