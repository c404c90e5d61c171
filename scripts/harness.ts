// Black-box harness shared by the torture run (scripts/torture.ts), the load bench (bench/load.ts) and
// the fault tests: the real CLI and a real daemon as child processes on a temporary data directory.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** The built CLI (`npm run build` makes it). */
export const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** stdout as raw bytes (content commands print binary data). */
  stdoutBytes: Buffer
  stderr: string
  /** Killed by us (killAfterMs or timeoutMs), not exited on its own. */
  killed: boolean
}

export interface CliOptions {
  /** Sends SIGKILL after this many ms (a crash at a random moment). */
  killAfterMs?: number
  /** Sends SIGKILL after this many ms whatever happens (a bound on a hung command). */
  timeoutMs?: number
  env?: NodeJS.ProcessEnv
  input?: string | Uint8Array
  /** Command to run instead of node (e.g. faketime); the node invocation follows its arguments. */
  wrap?: string[]
}

/** Runs `ipfs-kit --data-dir <home> ...args`; resolves when it has exited, however it ended. */
export function cli(home: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const argv = [process.execPath, BIN, '--data-dir', home, ...args]
  const [cmd, ...rest] = opts.wrap != null ? [...opts.wrap, ...argv] : argv
  const child = spawn(cmd!, rest, {
    env: { ...process.env, ...opts.env, IPFS_KIT_HOME: home },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const stdout: Buffer[] = []
  let stderr = ''
  let killed = false
  child.stdout.on('data', (d: Buffer) => stdout.push(d))
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  child.stdin.on('error', () => {})
  child.stdin.end(opts.input)
  const kill = () => {
    if (child.exitCode == null && child.signalCode == null) {
      killed = true
      child.kill('SIGKILL')
    }
  }
  const timers = [opts.killAfterMs, opts.timeoutMs]
    .filter((ms): ms is number => ms != null)
    .map((ms) => setTimeout(kill, ms))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      for (const t of timers) clearTimeout(t)
      const bytes = Buffer.concat(stdout)
      resolve({ code, signal, stdout: bytes.toString(), stdoutBytes: bytes, stderr, killed })
    })
  })
}

/** A daemon running in the foreground as a child process. */
export interface DaemonProcess {
  home: string
  url: string
  token: string
  pid: number
  child: ChildProcess
  /** fetch against the daemon with the token (unless `auth: false`) and a deadline. */
  call(
    path: string,
    init?: RequestInit & { auth?: boolean; json?: unknown; timeoutMs?: number },
  ): Promise<Response>
  /** Everything the daemon wrote to stderr so far. */
  stderr(): string
  /** SIGKILL, then wait until the process is gone. */
  kill9(): Promise<void>
  /** SIGTERM and wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>
}

export interface SpawnDaemonOptions {
  args?: string[]
  env?: NodeJS.ProcessEnv
  wrap?: string[]
  timeoutMs?: number
}

/**
 * Starts `ipfs-kit daemon start --foreground` on `home` and waits until it has written `<home>/api`
 * (config port 0 or `--port 0` picks a free port). Rejects with the daemon's stderr if it exits first.
 */
export async function spawnDaemon(home: string, opts: SpawnDaemonOptions = {}): Promise<DaemonProcess> {
  // a killed daemon leaves its api file behind: wait for the new daemon's
  rmSync(join(home, 'api'), { force: true })
  const argv = [
    process.execPath,
    BIN,
    '--data-dir',
    home,
    'daemon',
    'start',
    '--foreground',
    ...(opts.args ?? []),
  ]
  const [cmd, ...rest] = opts.wrap != null ? [...opts.wrap, ...argv] : argv
  const child = spawn(cmd!, rest, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...opts.env, IPFS_KIT_HOME: home },
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = once(child, 'exit')
  const apiFile = join(home, 'api')
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  for (;;) {
    if (child.exitCode != null || child.signalCode != null) {
      throw new Error(
        `the daemon exited (${child.exitCode ?? child.signalCode}) before serving: ${stderr.trim()}`,
      )
    }
    const url = existsSync(apiFile) ? readFileSync(apiFile, 'utf8').trim() : ''
    if (url !== '') break
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`the daemon did not start within ${opts.timeoutMs ?? 60_000} ms: ${stderr.trim()}`)
    }
    await sleep(25)
  }
  const url = readFileSync(apiFile, 'utf8').trim()
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  return {
    home,
    url,
    token,
    pid: child.pid!,
    child,
    call(path, init = {}) {
      const headers = new Headers(init.headers)
      if (init.auth !== false) headers.set('authorization', `Bearer ${token}`)
      let body = init.body
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json')
        body = JSON.stringify(init.json)
      }
      return fetch(`${url}${path}`, {
        ...init,
        headers,
        body,
        signal: init.signal ?? AbortSignal.timeout(init.timeoutMs ?? 30_000),
      })
    },
    stderr: () => stderr,
    async kill9() {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGKILL')
      await exited
    },
    async stop() {
      if (child.exitCode == null && child.signalCode == null) child.kill('SIGTERM')
      await exited
      return child.exitCode
    },
  }
}

/** Writes `<home>/config.json`: a free port, a libp2p node on a free loopback port, then `extra`. */
export function writeDaemonConfig(home: string, extra: Record<string, unknown> = {}): void {
  mkdirSync(home, { recursive: true, mode: 0o700 })
  const config = { port: 0, node: { listen: ['/ip4/127.0.0.1/tcp/0'] }, ...extra }
  writeFileSync(join(home, 'config.json'), JSON.stringify(config, null, 2))
}

/** Every file under `dir` (recursively) whose name looks like a temporary file. */
export function tempFilesUnder(dir: string): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    let entries: import('node:fs').Dirent[]
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (/\.tmp(-|\.|$)/.test(e.name)) found.push(p)
    }
  }
  walk(dir)
  return found
}

/** Percentile `p` (0..100) of `values` (nearest rank); NaN when empty. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

/** A plain-text table (Markdown pipes), the shape RELIABILITY.md and BENCHMARKS.md use. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  return [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n')
}
