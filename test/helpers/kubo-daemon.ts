import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { initKuboRepo, type KuboProcess, kuboEnv, startKuboProcess } from '../../src/backends/kubo-process.ts'
import { KUBO_BIN, requireKubo } from './kubo.ts'

const run = promisify(execFile)

/** A real Kubo daemon on loopback (free ports, no bootstrap, no routing), in its own temp repo. */
export interface KuboDaemon extends KuboProcess {
  readonly repo: string
  readonly peerId: string
  /** Its swarm multiaddrs, each ending in /p2p/<peerId>. */
  readonly addrs: string[]
  /** `ipfs ARGS` against this daemon; stdout (trimmed when `raw` is not set). */
  ipfs(args: string[], opts?: { input?: Buffer | string }): Promise<string>
  /** `ipfs ARGS` against this daemon; stdout as bytes (for `cat`, `dag export`, `block get`). */
  ipfsBytes(args: string[]): Promise<Buffer>
  /** Stops the daemon and removes its repo. */
  close(): Promise<void>
}

/**
 * Starts `ipfs daemon` from scripts/install-go-tools.sh on a fresh repo with the same offline loopback
 * config the managed `kubo` backend uses. Fails (never skips) when Kubo is not built.
 */
export async function startKuboDaemon(
  opts: { dir?: string; log?: (line: string) => void } = {},
): Promise<KuboDaemon> {
  requireKubo()
  const own = opts.dir == null
  const repo = opts.dir ?? mkdtempSync(join(tmpdir(), 'kit-kubo-'))
  await initKuboRepo(KUBO_BIN, repo)
  const proc = await startKuboProcess(KUBO_BIN, repo, { log: opts.log })
  const env = kuboEnv(repo)
  const ipfs = async (args: string[], o: { input?: Buffer | string } = {}) => {
    const p = run(KUBO_BIN, args, { env, maxBuffer: 256 << 20, encoding: 'utf8' })
    if (o.input != null) p.child.stdin?.end(o.input)
    else p.child.stdin?.end()
    const { stdout } = await p
    return stdout.trim()
  }
  const ipfsBytes = async (args: string[]) => {
    const p = run(KUBO_BIN, args, { env, maxBuffer: 1 << 30, encoding: 'buffer' })
    p.child.stdin?.end()
    return (await p).stdout
  }
  const id = JSON.parse(await ipfs(['id'])) as { ID: string; Addresses: string[] | null }
  return {
    ...proc,
    repo,
    peerId: id.ID,
    addrs: (id.Addresses ?? []).filter((a) => a.startsWith('/ip4/127.0.0.1/')),
    ipfs,
    ipfsBytes,
    async close() {
      await proc.stop()
      if (own) rmSync(repo, { recursive: true, force: true })
    },
  }
}
