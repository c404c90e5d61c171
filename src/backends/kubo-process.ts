import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { RepoError } from '../errors.ts'
import { multiaddrToUrl } from './options.ts'

const run = promisify(execFile)

/**
 * The Kubo config a repo ipfs-kit starts gets, over Kubo's `test` profile (loopback API, gateway and
 * swarm on port 0, no bootstrap peers, no MDNS, no AutoConf): no content routing at all (no DHT, not even
 * the LAN one), no relays, no AutoNAT. Such a node exchanges blocks over bitswap only with peers it is
 * told to connect to, and never reaches the public network.
 */
const OFFLINE_LOOPBACK: [key: string, json: string][] = [
  ['Routing.Type', '"none"'],
  ['Swarm.RelayClient.Enabled', 'false'],
  ['Swarm.RelayService.Enabled', 'false'],
  ['AutoNAT.ServiceMode', '"disabled"'],
  ['AutoConf.Enabled', 'false'],
  ['Bootstrap', '[]'],
  ['Discovery.MDNS.Enabled', 'false'],
]

/** The environment every `ipfs` command runs with: its repo, and telemetry off. */
export function kuboEnv(repoPath: string): NodeJS.ProcessEnv {
  return { ...process.env, IPFS_PATH: repoPath, IPFS_TELEMETRY: 'off' }
}

/**
 * Creates a Kubo repo at `repoPath` when there is none (`ipfs init --profile test --empty-repo`) and
 * applies the offline loopback config to it (also to an existing repo, so a repo made by an older
 * ipfs-kit gets it too). `listen` overrides the swarm addresses (default: 127.0.0.1, a free port).
 */
export async function initKuboRepo(
  bin: string,
  repoPath: string,
  opts: { swarm?: string[] } = {},
): Promise<void> {
  const env = kuboEnv(repoPath)
  if (!existsSync(join(repoPath, 'config'))) {
    await kubo(bin, ['init', '--profile', 'test', '--empty-repo'], env)
  }
  const settings = [...OFFLINE_LOOPBACK]
  if (opts.swarm != null) settings.push(['Addresses.Swarm', JSON.stringify(opts.swarm)])
  for (const [key, value] of settings) await kubo(bin, ['config', '--json', key, value], env)
}

/** A running `ipfs daemon`. */
export interface KuboProcess {
  /** The RPC API's base URL, e.g. http://127.0.0.1:41234 */
  readonly apiUrl: string
  /** The HTTP gateway's base URL. */
  readonly gatewayUrl: string
  readonly child: ChildProcess
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>
}

/**
 * Starts `ipfs daemon` on an initialised repo and resolves once its RPC API answers. Every line the
 * daemon writes goes to `log`. Rejects (and kills the process) when it exits first or does not answer
 * within `timeoutMs`.
 */
export async function startKuboProcess(
  bin: string,
  repoPath: string,
  opts: { log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<KuboProcess> {
  const log = opts.log ?? (() => {})
  // the files a previous daemon wrote: wait for the new one's, never read a stale port
  const apiFile = join(repoPath, 'api')
  const gatewayFile = join(repoPath, 'gateway')
  const child = spawn(bin, ['daemon', '--migrate=false'], {
    env: kuboEnv(repoPath),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let tail = ''
  const onData = (d: Buffer) => {
    const text = d.toString()
    tail = (tail + text).slice(-4000)
    for (const line of text.split('\n')) if (line !== '') log(line)
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = once(child, 'exit').then(() => undefined)
  const stop = async (graceMs = 10_000) => {
    if (child.exitCode != null || child.signalCode != null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  try {
    for (;;) {
      if (child.exitCode != null || child.signalCode != null) {
        throw new RepoError(
          `kubo daemon exited before it was ready (${child.exitCode ?? child.signalCode}): ${tail.trim()}`,
        )
      }
      if (tail.includes('Daemon is ready') && existsSync(apiFile) && existsSync(gatewayFile)) break
      if (Date.now() > deadline)
        throw new RepoError(`kubo daemon did not become ready in time: ${tail.trim()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const apiUrl = multiaddrToUrl((await readFile(apiFile, 'utf8')).trim())
    const gatewayUrl = (await readFile(gatewayFile, 'utf8')).trim()
    return { apiUrl, gatewayUrl, child, stop }
  } catch (err) {
    await stop(2_000)
    throw err
  }
}

async function kubo(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run(bin, args, { env, maxBuffer: 16 << 20 })
    return stdout
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT')
      throw new RepoError(`Kubo's ipfs is not at "${bin}" (scripts/install-go-tools.sh kubo builds it)`)
    throw new RepoError(`ipfs ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`)
  }
}
