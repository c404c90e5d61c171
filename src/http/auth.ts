import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { IpfsKitError } from '../errors.ts'

// The bearer token and the DNS-rebinding checks, one copy for the daemon (:8887) and the server (:8888).

/**
 * `<data>/api-token`: made by whichever of the daemon and the server starts first, mode 0600, and
 * shared by both; every mutating call must present it.
 */
export function loadOrCreateToken(dataDir: string): string {
  const path = join(dataDir, 'api-token')
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim()
    if (token.length >= 32) return token
  }
  const token = randomBytes(32).toString('hex')
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, `${token}\n`, { mode: 0o600, flush: true })
  renameSync(tmp, path)
  return token
}

/**
 * Checks `Authorization: Bearer <token>` in constant time; throws a 401 error otherwise. Both sides
 * are hashed first, so the comparison runs over two 32-byte digests whatever was sent: neither the
 * bytes nor the length of the real token show in how long a wrong guess takes.
 */
export function checkBearer(header: string | undefined, token: string): void {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  const given = createHash('sha256')
    .update(m?.[1] ?? '')
    .digest()
  const want = createHash('sha256').update(token).digest()
  // timingSafeEqual first, so a missing header costs the same as a wrong token
  if (!timingSafeEqual(given, want) || m == null) {
    throw new IpfsKitError(
      'ERR_UNAUTHORIZED',
      m == null
        ? 'this call needs "Authorization: Bearer <token>" (the token is in <data>/api-token)'
        : 'the bearer token is wrong (the token is in <data>/api-token)',
    )
  }
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** True for the addresses that keep a listener private to this machine. */
export function isLoopback(host: string): boolean {
  return host === '::1' || LOOPBACK_NAMES.has(host.toLowerCase())
}

/** Hosts a loopback-bound server answers to; anything else is a DNS-rebinding attempt. */
export function allowedHost(host: string | undefined, port: number): boolean {
  if (host == null) return false
  const sep = host.lastIndexOf(':')
  if (sep === -1 || host.slice(sep + 1) !== String(port)) return false
  return LOOPBACK_NAMES.has(host.slice(0, sep).toLowerCase())
}

/**
 * A browser sends Origin on cross-site requests: only a page served by this listener itself (same
 * host and port) may call it; a request without Origin (curl, the CLI, another program) passes.
 */
export function checkOrigin(origin: string | undefined, host: string | undefined): void {
  if (origin == null) return
  let originHost: string | undefined
  try {
    const u = new URL(origin)
    if (u.protocol === 'http:' || u.protocol === 'https:') originHost = u.host
  } catch {}
  if (originHost == null || originHost.toLowerCase() !== host?.toLowerCase()) {
    throw new IpfsKitError('ERR_FORBIDDEN', `origin "${origin}" is not allowed to call this server`)
  }
}
