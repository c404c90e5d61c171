import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { InvalidInputError } from '../errors.ts'

const multiaddr = z
  .string()
  .regex(/^\/(ip4|ip6|dns|dns4|dns6)\//, 'must be a multiaddr such as /ip4/127.0.0.1/tcp/4101')

/** Parses sizes such as 100MB, 64KiB or 1048576 into bytes. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') return input
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$/i.exec(input)
  if (m == null)
    throw new InvalidInputError(`invalid size "${input}": use bytes or a unit such as 100MB, 64KiB`)
  const unit = (m[2] ?? '').toUpperCase().replace(/B$/, '')
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(unit.replace('I', ''))
  const base = unit.includes('I') ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** power)
}

const size = z.union([z.number().int().positive(), z.string()]).transform((v, ctx) => {
  try {
    return parseSize(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
    return z.NEVER
  }
})

/** Every config key, its type and default. One place: the CLI, daemon and server all read this. */
export const ConfigSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(1).max(65535).default(8887),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    health_check_interval: z.number().positive().default(30),
    replication_sync_interval: z.number().positive().default(300),
    max_log_size: size.default(100_000_000),
    node: z
      .object({
        /** libp2p listen addresses of the embedded node while it serves (`ipfs-kit ipfs serve`). */
        listen: z.array(multiaddr).default(['/ip4/127.0.0.1/tcp/4101']),
        /** Peers the node dials to fetch missing blocks over bitswap; none by default (offline-safe). */
        peers: z.array(multiaddr).default([]),
        /** How long a fetch of a missing block may take before it fails, in milliseconds. */
        fetch_timeout_ms: z.number().int().positive().default(30_000),
      })
      .strict()
      .default({ listen: ['/ip4/127.0.0.1/tcp/4101'], peers: [], fetch_timeout_ms: 30_000 }),
  })
  .strict()

export type Config = z.infer<typeof ConfigSchema> & { data_dir: string }

/** The data directory: flag > $IPFS_KIT_HOME > ~/.ipfs-kit. */
export function resolveDataDir(flag?: string): string {
  const dir = flag ?? process.env.IPFS_KIT_HOME ?? join(homedir(), '.ipfs-kit')
  if (dir.trim() === '')
    throw new InvalidInputError('the data directory must not be empty (--data-dir or IPFS_KIT_HOME)')
  return resolve(dir)
}

/** Reads `<data>/config.json` (if present) over the defaults; refuses unknown keys and bad values by name. */
export function loadConfig(dataDir: string): Config {
  const path = join(dataDir, 'config.json')
  let raw: unknown = {}
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw new InvalidInputError(`cannot read ${path}: ${(err as Error).message}`)
  }
  const parsed = ConfigSchema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const key = issue.path.join('.') || '(root)'
    throw new InvalidInputError(`invalid config key "${key}" in ${path}: ${issue.message}`)
  }
  return { ...parsed.data, data_dir: dataDir }
}
