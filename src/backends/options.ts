import * as z from 'zod'
import { RepoError } from '../errors.ts'

/** Shared pieces of the backends' option schemas. */

/** `/ip4/127.0.0.1/tcp/5001` (Kubo's api file) as `http://127.0.0.1:5001`; a URL stays as it is. */
export function multiaddrToUrl(addr: string): string {
  if (/^https?:\/\//.test(addr)) return addr.replace(/\/$/, '')
  const m = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)(\/http)?$/.exec(addr)
  if (m == null) throw new RepoError(`cannot read Kubo's API address "${addr}"`)
  const host = m[1] === 'ip6' ? `[${m[2]}]` : m[2]
  return `http://${host}:${m[3]}`
}

function isHttpUrl(u: string): boolean {
  try {
    const url = new URL(u)
    return /^https?:$/.test(url.protocol) && url.hostname !== ''
  } catch {
    return false
  }
}

/**
 * A config key naming a service's HTTP API: an http(s) URL, or a multiaddr such as `example` (as Kubo
 * and IPFS Cluster print theirs). The OpenAPI document calls it format `service-url`.
 */
export function serviceUrl(example: string) {
  return z
    .string()
    .refine((u) => {
      try {
        return isHttpUrl(multiaddrToUrl(u))
      } catch {
        return false
      }
    }, `must be an http(s) URL or a multiaddr such as ${example}`)
    .meta({ format: 'service-url' })
}

/** A config key naming an http(s) URL (format `http-url` in the OpenAPI document). */
export const httpUrl = z
  .string()
  .refine(isHttpUrl, 'must be an http(s) URL such as https://api.example.com')
  .meta({ format: 'http-url' })

/**
 * Two keys set together or not at all (credentials), for the OpenAPI document (JSON Schema's
 * `dependentRequired` is not in OpenAPI 3.0); the option schema's own refine says it to a user.
 */
export function bothOrNeither(a: string, b: string): { anyOf: unknown[] } {
  return { anyOf: [{ required: [a, b] }, { not: { anyOf: [{ required: [a] }, { required: [b] }] } }] }
}
