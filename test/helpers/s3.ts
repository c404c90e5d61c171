import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

/** versitygw, an S3 server, built from the Go module proxy by scripts/install-go-tools.sh. */
export const VERSITYGW_BIN =
  process.env.IPFS_KIT_VERSITYGW_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'versitygw')

/** A real S3 server on loopback: versitygw serving a temp directory (its posix backend). */
export interface S3Server {
  endpoint: string
  accessKey: string
  secretKey: string
  dir: string
  child: ChildProcess
  /** Everything the server wrote on stdout and stderr so far. */
  output(): string
  close(): Promise<void>
}

/** A port nothing listens on right now (the server binds it a moment later). */
export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as { port: number }).port
  srv.close()
  await once(srv, 'close')
  return port
}

/** Starts versitygw on 127.0.0.1 and a free port; fails (never skips) when it is not built. */
export async function startS3Server(): Promise<S3Server> {
  assert.ok(
    existsSync(VERSITYGW_BIN),
    `versitygw is not installed at ${VERSITYGW_BIN}: run scripts/install-go-tools.sh versitygw (needs Go)`,
  )
  const dir = mkdtempSync(join(tmpdir(), 'kit-s3-'))
  const port = await freePort()
  const accessKey = 'kit-test-access'
  const secretKey = `kit-test-secret-${Math.random().toString(36).slice(2)}`
  const child = spawn(VERSITYGW_BIN, ['--port', `127.0.0.1:${port}`, 'posix', dir], {
    env: { ...process.env, ROOT_ACCESS_KEY: accessKey, ROOT_SECRET_KEY: secretKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode != null) throw new Error(`versitygw exited with ${child.exitCode}: ${out}`)
    const up = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1')
      sock.once('connect', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
    if (up) break
    if (Date.now() > deadline) throw new Error(`versitygw did not listen on ${port}: ${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKey,
    secretKey,
    dir,
    child,
    output: () => out,
    async close() {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
