import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { before } from 'node:test'

/** The built CLI (npm test builds it first). */
export const BIN = new URL('../../bin/ipfs-kit.js', import.meta.url).pathname

export interface RunResult {
  code: number | null
  stdout: Buffer
  stderr: string
  signal: NodeJS.Signals | null
}

/** Runs the real `ipfs-kit` binary (under this Node unless `node` names another) with a data directory, optional stdin, and returns its output. */
export function run(
  args: string[],
  opts: { home: string; input?: Uint8Array | string; cwd?: string; node?: string; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.node ?? process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, IPFS_KIT_HOME: opts.home, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(out), stderr: err }))
    if (opts.input != null) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'ipfs-kit-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Cleanups of the suite directories of this test file, run when its process exits. */
const suiteCleanups: (() => void)[] = []
process.once('exit', () => {
  for (const cleanup of suiteCleanups) cleanup()
})

/**
 * A temporary directory made before a suite's tests run and removed when the test file's process
 * exits. Not in an `after` hook: a suite's hooks run in the order they were registered, so this one
 * (registered first, at the top of a describe) ran before the suite's own `after` had stopped the
 * daemon still writing into the directory (CI once failed on it: ENOTEMPTY on the pin index).
 */
export function suiteTempDir(): { readonly dir: string } {
  let made: { dir: string; cleanup: () => void } | undefined
  before(() => {
    made = tempDir()
    suiteCleanups.push(made.cleanup)
  })
  return {
    get dir() {
      if (made == null) throw new Error('suiteTempDir() is only usable inside tests')
      return made.dir
    },
  }
}

/** Runs `ipfs-kit ipfs serve` on an ephemeral loopback port; resolves with its /p2p multiaddr. */
export async function serveNode(home: string): Promise<{ addr: string; stop: () => Promise<void> }> {
  const server = spawn(process.execPath, [BIN, 'ipfs', 'serve', '--listen', '/ip4/127.0.0.1/tcp/0'], {
    env: { ...process.env, IPFS_KIT_HOME: home },
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const addr = await new Promise<string>((resolve, reject) => {
    let buf = ''
    server.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find((l) => l.startsWith('/ip4/127.0.0.1/tcp/'))
      if (line != null) resolve(line.trim())
    })
    server.once('close', (code) => reject(new Error(`ipfs serve exited with ${code}`)))
  })
  return {
    addr,
    stop: async () => {
      if (server.exitCode != null) return
      const closed = new Promise((r) => server.once('close', r))
      server.kill('SIGTERM')
      await closed
    },
  }
}
