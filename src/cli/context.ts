import type { Command } from 'commander'
import { InvalidInputError } from '../errors.ts'
import type { Repo } from '../repo.ts'
import type { GlobalOptions } from './main.ts'

/** The global flags, wherever on the command line they were given. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions
}

/** Opens the data directory named by the flags, runs `fn`, and always closes it. */
export async function withRepo<T>(cmd: Command, fn: (repo: Repo) => Promise<T>): Promise<T> {
  const [{ ensureWritableDir, Repo }, { defaultConfig, resolveDataDir }] = await Promise.all([
    import('../repo.ts'),
    import('../config/defaults.ts'),
  ])
  const dir = resolveDataDir(globals(cmd).dataDir)
  ensureWritableDir(dir) // an unusable directory is named as such before its config.json is looked for
  // the schema (and zod) only when config.json or an IPFS_KIT_* variable sets something to check
  const config = defaultConfig(dir) ?? (await import('../config/config.ts')).loadConfig(dir)
  const repo = Repo.open(dir, config)
  try {
    return await fn(repo)
  } finally {
    await repo.close()
  }
}

/** Parses a whole-number flag, naming the flag in the error. */
export function intFlag(name: string, min = 0): (value: string) => number {
  return (value: string) => {
    const n = Number(value)
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidInputError(`invalid ${name} "${value}": expected a whole number >= ${min}`)
    }
    return n
  }
}

/** Collects a repeatable flag into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value]
}
