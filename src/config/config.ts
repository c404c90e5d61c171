import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import * as z from 'zod/mini'
import en from 'zod/v4/locales/en.js'
import { InvalidInputError, RepoError } from '../errors.ts'
import {
  CONFIG_DEFAULTS,
  configPath,
  ENV_KEYS,
  envName,
  resolveDataDir,
  setConfigLoader,
} from './defaults.ts'
import { parseSize, SIZE_TEXT } from './size.ts'

export { CONFIG_DEFAULTS, configPath, parseSize, resolveDataDir }

/** Backend names appear in URLs, file names and logs: keep them plain. */
export const BACKEND_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/

/**
 * Every config key, its type and default. One place: the CLI, daemon and server all read this.
 * Written with zod/mini, not classic zod: every command loads it, and classic zod's schemas (a
 * bound method each per schema) cost a small command about 10 ms more to build. Built on first
 * use (see {@link configSchema}): building even this one costs a small command about 8 ms.
 */
function buildConfigSchema() {
  // zod/mini carries no messages of its own: the same English ones as classic zod's
  z.config(en())
  // every default is CONFIG_DEFAULTS' (plain data, read without building this schema)
  const D = CONFIG_DEFAULTS
  const multiaddr = z
    .string()
    .check(z.regex(/^\/(ip4|ip6|dns|dns4|dns6)\//, 'must be a multiaddr such as /ip4/127.0.0.1/tcp/4101'))

  /** A whole number in [min, max]. */
  const int = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max))

  /** A number in [min, max]. */
  const num = (min: number, max: number) => z.number().check(z.minimum(min), z.maximum(max))

  const size = z.pipe(
    z.union([
      z.int().check(z.positive()),
      z.string().check(z.regex(SIZE_TEXT, 'must be bytes or a size such as 100MB, 64KiB')),
    ]),
    z.transform((v: number | string, ctx) => {
      let bytes: number
      try {
        bytes = parseSize(v)
      } catch (err) {
        ctx.issues.push({ code: 'custom', message: (err as Error).message, input: v })
        return z.NEVER
      }
      // "0" or "0.1B" would pass the pattern and mean nothing: a size is at least a byte
      if (bytes < 1) {
        ctx.issues.push({ code: 'custom', message: `"${v}" is less than one byte`, input: v })
        return z.NEVER
      }
      return bytes
    }),
  )

  /** A host to listen on: a name or an IPv4/IPv6 address, no scheme, port or path. */
  const host = z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(253),
      z.regex(
        /^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/,
        'must be a host name or an IP address, such as 127.0.0.1 or ::1',
      ),
    )

  /** A request header limit: 16 KiB to 1 MiB (node's own default is 16 KiB). */
  const headerSize = z._default(z.pipe(size, num(16 * 1024, 1024 * 1024)), D.max_header_size)

  const backendEntry = z.catchall(
    z.object({
      name: z
        .string()
        .check(z.regex(BACKEND_NAME, 'must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit')),
      type: z.string().check(z.minLength(1)),
    }),
    z.unknown(),
  )

  const policy = z
    .strictObject({
      min_replicas: z._default(int(1, 64), D.replication.min_replicas),
      max_replicas: z._default(int(1, 64), D.replication.max_replicas),
      preferred: z._default(z.array(z.string()), []),
      excluded: z._default(z.array(z.string()), []),
    })
    .check(z.refine((p) => p.max_replicas >= p.min_replicas, 'max_replicas must be >= min_replicas'))

  /** The server on :8888 (gateway, REST API, MCP, dashboard); `ipfs-kit server start` reads it. */
  const server = z.strictObject({
    host: z._default(host, D.server.host),
    port: z._default(int(0, 65535), D.server.port),
    /** The daemon's URL; by default read from `<data>/api`. */
    daemon_url: z.optional(z.url()),
    enable_dashboard: z._default(z.boolean(), D.server.enable_dashboard),
    /**
     * Bound to a non-loopback host, every route needs the API token; true opens the gateway
     * (`/ipfs/...`) to anyone who can reach it, as a public gateway. No effect on loopback.
     */
    public_gateway: z._default(z.boolean(), D.server.public_gateway),
    /** Request bodies (API calls, MCP messages) larger than this are refused with 413. */
    max_body_size: z._default(size, D.server.max_body_size),
    /** Files uploaded through the dashboard (POST /api/content) larger than this are refused with 413. */
    max_upload_size: z._default(size, D.server.max_upload_size),
    /** Open client connections at once; more are closed on arrival, so a flood cannot take every descriptor. */
    max_connections: z._default(int(8, 100_000), D.server.max_connections),
    /** `/api/events` streams open at once (each also holds one of the daemon's); one more is refused with 503. */
    max_sse_clients: z._default(int(1, 10_000), D.server.max_sse_clients),
    /** Request headers larger than this are refused (431); 64 KiB holds the longest values the routes take. */
    max_header_size: headerSize,
  })

  return z.strictObject({
    host: z._default(host, D.host),
    /** 0 picks a free port; the daemon writes the one it got to `<data>/api`. */
    port: z._default(int(0, 65535), D.port),
    log_level: z._default(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']), D.log_level),
    /** Seconds, at least one: a shorter loop would keep the daemon busy probing. */
    health_check_interval: z._default(num(1, 86_400), D.health_check_interval),
    replication_sync_interval: z._default(num(1, 86_400), D.replication_sync_interval),
    max_log_size: z._default(size, D.max_log_size),
    /** Rotated log files kept per log, besides the current one. */
    log_files_kept: z._default(int(1, 100), D.log_files_kept),
    /** Re-hash every block read from the local blockstore (Kubo's Datastore.HashOnRead; default off, as Kubo). */
    hash_on_read: z._default(z.boolean(), D.hash_on_read),
    /** `GET /events` streams open at once; one more is refused with 503 (each costs a bounded buffer). */
    max_sse_clients: z._default(int(1, 10_000), D.max_sse_clients),
    /** Open API connections at once; more are closed on arrival, so a flood cannot take every descriptor. */
    max_connections: z._default(int(8, 100_000), D.max_connections),
    /** Request bodies to the daemon's API larger than this are refused with 413 (a pin request is < 64 KiB). */
    max_body_size: z._default(z.pipe(size, num(1024, 64 * 1024 * 1024)), D.max_body_size),
    /** Request headers to the daemon's API larger than this are refused (431); 64 KiB holds the longest filters. */
    max_header_size: headerSize,
    /** Storage backends besides the always-present `local` one. */
    backends: z._default(z.array(backendEntry), []),
    /** The policy of a pin that does not set its own. */
    replication: z._default(policy, () => structuredClone(D.replication)),
    server: z._default(server, () => structuredClone(D.server)),
    node: z._default(
      z.strictObject({
        /** libp2p listen addresses of the embedded node while it serves (`ipfs-kit ipfs serve`). */
        listen: z._default(z.array(multiaddr), () => [...D.node.listen]),
        /** Peers the node dials to fetch missing blocks over bitswap; none by default (offline-safe). */
        peers: z._default(z.array(multiaddr), []),
        /** How long a fetch of a missing block may take before it fails, in milliseconds. */
        fetch_timeout_ms: z._default(z.int().check(z.positive()), D.node.fetch_timeout_ms),
      }),
      () => structuredClone(D.node),
    ),
  })
}

type Schema = ReturnType<typeof buildConfigSchema>
let schema: Schema | undefined

/** The config schema, built on first use. */
export function configSchema(): Schema {
  schema ??= buildConfigSchema()
  return schema
}

/** Backend config keys that hold a credential: shown as `REDACTED`, never logged or answered. */
export const SECRET_KEY = /(secret|token|password|credential|^access_key|_access_key)/i
export const REDACTED = '***'

/**
 * A copy of a config (or a config file's contents) fit to show: every backend key that names a
 * credential (`secret_access_key`, `token`, ...) is replaced by `***`. `GET /config`, `config show`
 * and `config get` answer with this, so a secret set in config.json is never echoed back.
 */
export function redactConfig<T>(config: T): T {
  const c = config as Record<string, unknown>
  if (c == null || typeof c !== 'object' || !Array.isArray(c.backends)) return config
  const backends = (c.backends as Record<string, unknown>[]).map((b) =>
    Object.fromEntries(
      Object.entries(b).map(([k, v]) => [k, SECRET_KEY.test(k) && v != null ? REDACTED : v]),
    ),
  )
  return { ...c, backends } as T
}

/**
 * Undoes `redactConfig` for a config about to be written: a backend credential sent back as `***`
 * (a GET /config edited and PUT back) keeps the value the same backend has in `previous`.
 */
export function keepSecrets(
  next: Record<string, unknown>,
  previous: Record<string, unknown>,
): Record<string, unknown> {
  if (!Array.isArray(next.backends)) return next
  const before = new Map(
    (Array.isArray(previous.backends) ? (previous.backends as Record<string, unknown>[]) : []).map((b) => [
      b.name,
      b,
    ]),
  )
  const backends = (next.backends as Record<string, unknown>[]).map((b) =>
    b == null || typeof b !== 'object'
      ? b
      : Object.fromEntries(
          Object.entries(b).map(([k, v]) => [
            k,
            v === REDACTED && SECRET_KEY.test(k) ? before.get(b.name)?.[k] : v,
          ]),
        ),
  )
  return { ...next, backends }
}

export type ConfigFile = z.input<Schema>
export type Config = z.infer<Schema> & { data_dir: string }
export type ReplicationPolicy = Config['replication']
export type ServerConfig = Config['server']

/** The raw contents of config.json ({} when absent). */
export function readConfigFile(dataDir: string): Record<string, unknown> {
  const path = configPath(dataDir)
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return {}
    // a file the OS will not give us (EACCES, EISDIR, EIO) is an unusable data directory (exit 1);
    // a file that is not JSON is bad input (exit 2)
    if (code != null)
      throw new RepoError(
        `cannot read ${path}: ${(err as Error).message}: give its owner access (chmod 600 ${path})`,
      )
    throw new InvalidInputError(`cannot read ${path}: ${(err as Error).message}`)
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidInputError(`${path} must hold a JSON object`)
  }
  return raw as Record<string, unknown>
}

/** IPFS_KIT_* variables as config values (numbers parsed, so the schema names bad ones). */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of ENV_KEYS) {
    const value = env[envName(key)]
    if (value == null || value === '') continue
    out[key] = /^-?\d+(\.\d+)?$/.test(value)
      ? Number(value)
      : value === 'true' || value === 'false'
        ? value === 'true'
        : value
  }
  return out
}

/** The layer a config value came from, lowest first: defaults < config.json < IPFS_KIT_* env < flags. */
export type ConfigOrigin = 'default' | 'file' | 'env' | 'flag'

/** Which layer each value came from, by dotted key (`port`, `replication.min_replicas`, `node.peers`). */
export type ConfigOrigins = Record<string, ConfigOrigin>

/** The layers above config.json that a process was started with; a reload re-applies them. */
export interface ConfigLayers {
  /** Start-up flags as config keys (`--health-check-interval 7` -> `{ health_check_interval: 7 }`). */
  flags?: Record<string, unknown>
  /** The environment to read IPFS_KIT_* from (default: this process's). */
  env?: NodeJS.ProcessEnv
}

/** Keys that apply at the next start (`backends` apply at once: see Daemon.applyBackends). */
export const RESTART_KEYS = [
  'host',
  'port',
  'node',
  'max_log_size',
  'log_files_kept',
  'max_connections',
  'max_body_size',
  'max_header_size',
] as const

/**
 * The effective config and where each value came from: defaults < config.json < IPFS_KIT_* env <
 * flags (as `git config --show-origin` tells). An unknown key or a bad value is refused with a
 * message that names the key and the layer that set it.
 */
export function resolveConfig(
  dataDir: string,
  layers: ConfigLayers = {},
): { config: Config; origins: ConfigOrigins } {
  const file = readConfigFile(dataDir)
  const env = envOverrides(layers.env ?? process.env)
  const flags = layers.flags ?? {}
  const originOf = (path: string): ConfigOrigin => {
    const top = path.split('.')[0]!
    if (top in flags) return 'flag'
    if (top in env) return 'env'
    return has(file, path) ? 'file' : 'default'
  }
  const sourceOf = (path: string): string => {
    const top = path.split('.')[0]!
    const origin = originOf(path)
    if (origin === 'flag') return `flag --${top.replaceAll('_', '-')}`
    if (origin === 'env') return `environment ${envName(top)}`
    return configPath(dataDir)
  }
  const input = { ...file, ...env, ...flags }
  // nothing set anywhere: the defaults, without building the schema to check them
  const values =
    Object.keys(input).length === 0 ? structuredClone(CONFIG_DEFAULTS) : validateConfig(input, sourceOf)
  const origins: ConfigOrigins = {}
  for (const path of leafKeys(values)) origins[path] = originOf(path)
  return { config: { ...values, data_dir: dataDir }, origins }
}

/** The effective config (see resolveConfig), without the origins. */
export function loadConfig(
  dataDir: string,
  overrides: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = process.env,
): Config {
  return resolveConfig(dataDir, { flags: overrides, env }).config
}

setConfigLoader((dataDir) => loadConfig(dataDir))

/** Dotted paths of every value, descending into objects (arrays are values). */
function leafKeys(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v != null && typeof v === 'object' && !Array.isArray(v)
      ? leafKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  )
}

function has(obj: Record<string, unknown>, path: string): boolean {
  let cur: unknown = obj
  for (const part of path.split('.')) {
    if (cur == null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part))
      return false
    cur = (cur as Record<string, unknown>)[part]
  }
  return true
}

/**
 * Validates a whole config object; `source` names where it came from in the error (or, given a
 * function, where the bad key came from).
 */
export function validateConfig(value: unknown, source: string | ((key: string) => string)): z.infer<Schema> {
  const parsed = configSchema().safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const key = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .slice(1)
    const dotted = issue.path.filter((p) => typeof p === 'string').join('.')
    const where = typeof source === 'string' ? source : source(dotted)
    throw new InvalidInputError(`invalid config key "${key || '(root)'}" (${where}): ${issue.message}`)
  }
  return parsed.data
}

/** Writes config.json atomically (temp file, fsync, rename). */
export function writeConfigFile(dataDir: string, value: Record<string, unknown>): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const path = configPath(dataDir)
  const tmp = `${path}.tmp-${process.pid}`
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600, flush: true })
  renameSync(tmp, path)
}
