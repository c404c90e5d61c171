import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { closeSync, existsSync, openSync, writeSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { decode } from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'

/** Kubo's `ipfs`, built from the Go module proxy by scripts/install-kubo.sh. */
export const KUBO_BIN = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')

/** Fails (never skips) when Kubo is missing, saying how to get it. */
export function requireKubo(): void {
  assert.ok(
    existsSync(KUBO_BIN),
    `Kubo is not installed at ${KUBO_BIN}: run scripts/install-kubo.sh (or set IPFS_KIT_KUBO_BIN)`,
  )
}

/**
 * A Kubo repo in a temp dir, used strictly offline: `init --profile test --empty-repo`, then only
 * `add --offline` and local block reads. No daemon is ever started, so nothing listens or dials.
 */
export class KuboRepo {
  readonly env: NodeJS.ProcessEnv
  constructor(readonly path: string) {
    // telemetry off as well: it only runs in a daemon, but say so anyway
    this.env = { ...process.env, IPFS_PATH: path, IPFS_TELEMETRY: 'off' }
    execFileSync(KUBO_BIN, ['init', '--profile', 'test', '--empty-repo'], { env: this.env, stdio: 'ignore' })
  }

  version(): string {
    return execFileSync(KUBO_BIN, ['version'], { env: this.env }).toString().trim()
  }

  /** `ipfs add --offline ARGS`: stdout, trimmed. */
  add(args: string[], cwd?: string): Promise<string> {
    return this.exec(['add', '--offline', ...args], cwd).then((b) => b.toString().trim())
  }

  /** `ipfs ls --offline ARGS`: stdout as Kubo wrote it. */
  async ls(args: string[]): Promise<string> {
    return (await this.exec(['ls', '--offline', ...args])).toString()
  }

  /** The UnixFS type of a block Kubo stored (after an add without -n). */
  async unixfsType(cid: string): Promise<string> {
    const block = await this.exec(['block', 'get', '--offline', cid])
    const node = decode(block)
    assert.ok(node.Data != null, `${cid} has no UnixFS data`)
    return UnixFS.unmarshal(node.Data).type
  }

  private exec(args: string[], cwd?: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      execFile(
        KUBO_BIN,
        args,
        { env: this.env, cwd, encoding: 'buffer', maxBuffer: 64 << 20 },
        (err, stdout, stderr) => {
          if (err != null) reject(new Error(`ipfs ${args.join(' ')} failed: ${stderr.toString()}`))
          else resolve(stdout)
        },
      )
    })
  }
}

/**
 * Writes `size` deterministic pseudo-random bytes: the AES-256-CTR keystream under the key
 * sha256(seed). The same (seed, size) gives the same bytes on every machine, and it runs at
 * disk speed, so no fixture needs to be checked in.
 */
export function writeSeededFile(path: string, size: number, seed: string): void {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(1 << 20)
  const fd = openSync(path, 'w')
  try {
    for (let left = size; left > 0; left -= zeros.length) {
      const block = cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
      writeSync(fd, block)
    }
  } finally {
    closeSync(fd)
  }
}

/** Debian's `ipfs_cid` (package ipfs-cid), or undefined when it is not on PATH. */
export function findIpfsCid(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v ipfs_cid'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return undefined
  }
}

/** `ipfs_cid FILE`: it prints one JSON line on stdout and its timing chatter on stderr. */
export function ipfsCid(tool: string, file: string): { CIDv0: string; CIDv1: string } {
  const out = execFileSync(tool, [file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()
  return JSON.parse(out) as { CIDv0: string; CIDv1: string }
}
