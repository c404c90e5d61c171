import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { exited, hasExited, stopChild } from './child.ts'
import { BIN } from './cli.ts'

/** `ipfs-kit server start --foreground` as a child process, on a free port. */
export interface TestServer {
  url: string
  token: string
  child: ChildProcess
  /** fetch against the server; `auth: true` adds the token. */
  call(path: string, init?: RequestInit & { auth?: boolean; json?: unknown }): Promise<Response>
  /** SIGTERM, then its exit code (null when a signal ended it); never hangs. */
  stop(): Promise<number | null>
  /** Waits for it to exit by itself (after `server stop`, say); never hangs. */
  exited(): Promise<number | null>
}

/** Starts the server on `home` and waits until `<data>/server-api` is written. */
export async function startServer(home: string, extraArgs: string[] = []): Promise<TestServer> {
  rmSync(join(home, 'server-api'), { force: true })
  const child = spawn(
    process.execPath,
    [BIN, '--data-dir', home, 'server', 'start', '--foreground', '--port', '0', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IPFS_KIT_HOME: home } },
  )
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const urlFile = join(home, 'server-api')
  const deadline = Date.now() + 60_000
  while (!existsSync(urlFile) || readFileSync(urlFile, 'utf8').trim() === '') {
    if (hasExited(child)) throw new Error(`server exited with ${child.exitCode}: ${stderr}`)
    if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const url = readFileSync(urlFile, 'utf8').trim()
  const token = readFileSync(join(home, 'api-token'), 'utf8').trim()
  return {
    url,
    token,
    child,
    call(path, init = {}) {
      const headers = new Headers(init.headers)
      if (init.auth === true) headers.set('authorization', `Bearer ${token}`)
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
