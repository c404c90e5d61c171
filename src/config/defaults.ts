/**
 * What a command needs of the config before it knows there is any: the data directory, where
 * config.json lives, the variables that set keys, and every key's default. No schema here: a command
 * run on a data directory with no config.json and no IPFS_KIT_<KEY> variable (see
 * {@link defaultConfig}) never loads zod, which costs a small command ~10 ms. Everything else about
 * the config is in config.ts, which re-exports this.
 */
import { statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidInputError } from '../errors.ts'
import type { Config } from './config.ts'

/**
 * Every key's default: what the schema makes of `{}` (a test holds the two equal). Plain data, so
 * that a command run with no config.json and no IPFS_KIT_* variable builds no schema at all.
 */
export const CONFIG_DEFAULTS = {
  host: '127.0.0.1',
  port: 8887,
  log_level: 'info' as const,
  health_check_interval: 30,
  replication_sync_interval: 300,
  max_log_size: 100_000_000,
  log_files_kept: 5,
  hash_on_read: false,
  max_sse_clients: 64,
  max_connections: 1024,
  max_body_size: 1024 * 1024,
  max_header_size: 64 * 1024,
  backends: [],
  replication: { min_replicas: 1, max_replicas: 3, preferred: [], excluded: [] },
  server: {
    host: '127.0.0.1',
    port: 8888,
    enable_dashboard: true,
    public_gateway: false,
    max_body_size: 16 * 1024 * 1024,
    max_upload_size: 1024 * 1024 * 1024,
    max_connections: 1024,
    max_sse_clients: 32,
    max_header_size: 64 * 1024,
  },
  node: { listen: ['/ip4/127.0.0.1/tcp/4101'], peers: [], fetch_timeout_ms: 30_000 },
}

/** Top-level keys that `IPFS_KIT_<KEY>` environment variables may set. */
export const ENV_KEYS = [
  'host',
  'port',
  'log_level',
  'health_check_interval',
  'replication_sync_interval',
  'max_log_size',
  'log_files_kept',
  'hash_on_read',
  'max_sse_clients',
  'max_connections',
  'max_body_size',
  'max_header_size',
] as const

/** The data directory: flag > $IPFS_KIT_HOME > ~/.ipfs-kit. */
export function resolveDataDir(flag?: string): string {
  const dir = flag ?? process.env.IPFS_KIT_HOME ?? join(homedir(), '.ipfs-kit')
  if (dir.trim() === '')
    throw new InvalidInputError('the data directory must not be empty (--data-dir or IPFS_KIT_HOME)')
  return resolve(dir)
}

/** `<data>/config.json`. */
export function configPath(dataDir: string): string {
  return join(dataDir, 'config.json')
}

/** The variable that sets a top-level key: `port` -> `IPFS_KIT_PORT`. */
export function envName(key: string): string {
  return `IPFS_KIT_${key.toUpperCase()}`
}

/**
 * The config of a data directory that sets nothing: no config.json (a missing data directory too)
 * and no IPFS_KIT_<KEY> variable. Undefined when anything might set a key, or the file cannot be
 * looked at: then loadConfig reads, validates and reports as always.
 */
export function defaultConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): Config | undefined {
  if (ENV_KEYS.some((key) => (env[envName(key)] ?? '') !== '')) return undefined
  try {
    if (statSync(configPath(dataDir), { throwIfNoEntry: false }) != null) return undefined
  } catch {
    return undefined
  }
  return { ...structuredClone(CONFIG_DEFAULTS), data_dir: dataDir }
}

let loader: ((dataDir: string) => Config) | undefined

/** config.ts hands over its loadConfig as it loads. */
export function setConfigLoader(load: (dataDir: string) => Config): void {
  loader = load
}

/**
 * The data directory's config: {@link defaultConfig}, or else loadConfig's. For `Repo.open` without
 * a config, which must not load the schema itself: the package's entry (index.ts) loads config.ts,
 * and the CLI passes the config it loaded.
 */
export function configOf(dataDir: string): Config {
  const config = defaultConfig(dataDir) ?? loader?.(dataDir)
  if (config == null)
    throw new Error(`internal: the config of ${dataDir} is needed before config.ts is loaded`)
  return config
}
