import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The built CLI (npm test builds it first). */
export const BIN = new URL('../../bin/ipfs-kit.js', import.meta.url).pathname

export interface RunResult {
  code: number | null
  stdout: Buffer
  stderr: string
  signal: NodeJS.Signals | null
}

/** Runs the real `ipfs-kit` binary with a data directory, optional stdin, and returns its output. */
export function run(
  args: string[],
  opts: { home: string; input?: Uint8Array | string; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, IPFS_KIT_HOME: opts.home },
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
