import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exited, hasExited, stopChild } from './child.ts'
import { BIN } from './cli.ts'

/** A daemon running in the foreground as a child process, on a free port. */
export interface TestDaemon {
  url: string
  token: string
  child: ChildProcess
  /** fetch against the daemon; `auth: false` leaves the token out. */
  call(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>
  /** SIGTERM, then its exit code (null when a signal ended it); never hangs. */
  stop(): Promise<number | null>
  /** Waits for it to exit by itself (after `daemon stop`, say); never hangs. */
  exited(): Promise<number | null>
}

/** Writes config.json (merged over nothing) into a fresh data dir. */
export function writeConfig(home: string, config: Record<string, unknown>): void {
  mkdirSync(home, { recursive: true })
  writeFileSync(join(home, 'config.json'), JSON.stringify(config, null, 2))
}

/** Starts `ipfs-kit daemon start --foreground --port 0` and waits until `<data>/api` is written. */
export async function startDaemon(
  home: string,
  extraArgs: string[] = [],
  env: Record<string, string> = {},
): Promise<TestDaemon> {
  // a killed daemon leaves its api file behind; wait for the new daemon's, not that one
  rmSync(join(home, 'api'), { force: true })
  const child = spawn(
    process.execPath,
    [BIN, '--data-dir', home, 'daemon', 'start', '--foreground', '--port', '0', ...extraArgs],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, IPFS_KIT_HOME: home, ...env },
    },
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  child.stdout?.resume()
  const apiFile = join(home, 'api')
  const deadline = Date.now() + 60_000
  while (!existsSync(apiFile) || readFileSync(apiFile, 'utf8').trim() === '') {
    if (hasExited(child)) throw new Error(`daemon exited with ${child.exitCode}: ${stderr}`)
    if (Date.now() > deadline) throw new Error(`daemon did not start: ${stderr}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = readFileSync(apiFile, 'utf8').trim()
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  return {
    url,
    token,
    child,
    call(path, init = {}) {
      const headers = new Headers(init.headers)
      if (init.auth !== false) headers.set('authorization', `Bearer ${token}`)
      let body = init.body
      if (init.json !== undefined) {
        headers.set('content-type', 'application/json')
        body = JSON.stringify(init.json)
      }
      return fetch(`${url}${path}`, { ...init, headers, body, signal: AbortSignal.timeout(120_000) })
    },
    stop: () => stopChild(child),
    exited: () => exited(child),
  }
}

// biome-ignore lint/suspicious/noExplicitAny: tests read loosely shaped JSON answers
export type Loose = any

/** The JSON body of a response (or of a pending one). */
export async function json(res: Response | Promise<Response>): Promise<Loose> {
  return (await res).json()
}
