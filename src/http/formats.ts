import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifySchemaCompiler } from 'fastify'

/**
 * JSON schemas of the values the API takes that JSON Schema has no type for. Each is a `format`
 * the OpenAPI document names (so a client or a fuzzer knows what a valid value is: see
 * scripts/openapi-hooks.py for schemathesis), while the value itself is checked by the handler,
 * whose error names the field (ajv is told every format below is valid: `AJV_FORMATS`).
 */
export const CID_STRING = {
  type: 'string',
  format: 'cid',
  minLength: 1,
  maxLength: 200,
  description: 'a CID: CIDv0 (Qm..., base58btc) or CIDv1 in any multibase (bafy..., bafk..., z...)',
} as const

export const CID_LIST = {
  type: 'string',
  format: 'cid-list',
  maxLength: 2000,
  description: 'one or more CIDs (at most 10 in the Pinning Service API), comma-separated, each at most once',
} as const

export const CID_OR_TIME = {
  type: 'string',
  format: 'cid-or-time',
  maxLength: 200,
  description: 'a requestid (the CID of a pin) or an ISO 8601 time',
} as const

export const STATUS_LIST = {
  type: 'string',
  format: 'status-list',
  maxLength: 64,
  description: 'one or more of queued, pinning, pinned, failed, comma-separated, each at most once',
} as const

export const META_FILTER = {
  type: 'string',
  format: 'json-string-map',
  // the whole request head must fit node's 16 KiB, percent-encoded (up to 12 bytes a character)
  maxLength: 512,
  description: 'a JSON object of strings that a pin\'s meta must contain, e.g. {"app":"photos"}',
} as const

export const MULTIADDR = {
  type: 'string',
  format: 'multiaddr',
  minLength: 1,
  maxLength: 1024,
  description: 'a multiaddr, e.g. /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...',
} as const

export const IPFS_PATH = {
  type: 'string',
  format: 'ipfs-path',
  minLength: 1,
  // a query value: the request head must fit node's 16 KiB percent-encoded
  maxLength: 1024,
  description: 'a CID, then optionally /path/below/it',
} as const

export const ENTITY_BYTES = {
  type: 'string',
  format: 'entity-bytes',
  pattern: '^-?[0-9]+:(-?[0-9]+|[*])$',
  maxLength: 64,
  description: 'from:to, bytes of the entity (to may be *, from may count from the end): 0:1023, -1024:*',
} as const

export const VFS_PATH = {
  type: 'string',
  format: 'vfs-path',
  minLength: 1,
  // a query value: the request head must fit node's 16 KiB percent-encoded
  maxLength: 1024,
  description: 'an absolute VFS path such as / or /docs/report.pdf (no "." or ".." segments)',
} as const

/** A VFS path below the root: what write, rm and mv's source take ("/" itself is refused). */
export const VFS_ENTRY_PATH = {
  ...VFS_PATH,
  format: 'vfs-entry-path',
  description: 'an absolute VFS path below the root, such as /docs/report.pdf (no "." or ".." segments)',
} as const

/** Where `vfs cp` copies from: a VFS path, or /ipfs/<cid>[/path]. */
export const VFS_SOURCE = {
  type: 'string',
  format: 'vfs-source',
  minLength: 1,
  maxLength: 1024,
  description: 'a VFS path (/docs/a.txt) or an IPFS path (/ipfs/<cid>[/path])',
} as const

/** Formats ajv accepts as they are: the handlers check them, with messages that name the field. */
const AJV_FORMATS = {
  cid: true,
  'cid-list': true,
  'cid-or-time': true,
  'json-string-map': true,
  multiaddr: true,
  'status-list': true,
  'ipfs-path': true,
  'entity-bytes': true,
  'vfs-path': true,
  'vfs-entry-path': true,
  'vfs-source': true,
} as const

/**
 * The validator compiler of the API: a JSON body is taken as sent, never coerced or trimmed (fastify's
 * default turns `null` into `""` or `false` and silently drops unknown fields, so a request outside
 * the schema would be accepted); the query string and path are coerced (they are text: `limit=10`).
 */
export function strictBodies(): FastifySchemaCompiler<unknown> {
  const factory = AjvCompiler()
  const common = { formats: AJV_FORMATS }
  const body = factory({}, { customOptions: { ...common, coerceTypes: false, removeAdditional: false } })
  const text = factory({}, { customOptions: { ...common, removeAdditional: false } })
  return (route) => (route.httpPart === 'body' ? body(route) : text(route))
}
