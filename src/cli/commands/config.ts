import type { Command } from 'commander'
import { InvalidInputError } from '../../errors.ts'
import { globals } from '../context.ts'
import { note, out, outJson } from '../output.ts'

/** `ipfs-kit config show|get|set`: the effective config, and changes validated before they are saved. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('show and change settings (config.json)')

  config
    .command('show')
    .description(
      "the effective config: defaults < config.json < IPFS_KIT_* env < the daemon's start-up flags (the running daemon's, if one runs)",
    )
    .option('--origin', 'say which layer each value came from, as `git config --show-origin` does')
    .addHelpText('after', '\nExamples:\n  ipfs-kit config show\n  ipfs-kit config show --origin')
    .action(async (flags: { origin?: boolean }, cmd: Command) => {
      const { dir, effective, origins, from } = await load(cmd)
      if (from != null) note(`(the config of the daemon running at ${from})`)
      if (!flags.origin) return outJson(effective)
      if (globals(cmd).json) return outJson({ config: effective, origins })
      const { configPath } = await import('../../config/config.ts')
      for (const [key, origin] of Object.entries(origins)) {
        const top = key.split('.')[0]!
        const where =
          origin === 'file'
            ? `file:${configPath(dir)}`
            : origin === 'env'
              ? `env:IPFS_KIT_${top.toUpperCase()}`
              : origin === 'flag'
                ? `flag:--${top.replaceAll('_', '-')}`
                : 'default'
        out(`${where}\t${key}=${JSON.stringify(lookup(effective, key))}`)
      }
    })

  config
    .command('get <key>')
    .description('one key, e.g. port or node.peers')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit config get port\n  ipfs-kit config get replication.min_replicas',
    )
    .action(async (key: string, _f: unknown, cmd: Command) => {
      const { effective, from } = await load(cmd)
      if (from != null) note(`(the config of the daemon running at ${from})`)
      const value = lookup(effective, key)
      if (value === undefined) throw new InvalidInputError(`unknown config key "${key}"`)
      out(typeof value === 'string' && !globals(cmd).json ? value : JSON.stringify(value))
    })

  config
    .command('set <key> <value>')
    .description('set a key (value is JSON, or a plain string); a running daemon applies intervals at once')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit config set health_check_interval 10\n  ipfs-kit config set node.peers \'["/ip4/127.0.0.1/tcp/4101/p2p/12D3KooWK1Eh3joP9JNUwSpfRbJUvoTUstjxigWg3P7xmmGqUP5m"]\'',
    )
    .action(async (key: string, raw: string, _f: unknown, cmd: Command) => {
      const [{ readConfigFile, validateConfig, writeConfigFile, configPath }, { daemonClient }] =
        await Promise.all([import('../../config/config.ts'), import('../daemon-access.ts')])
      const { dir, from } = await load(cmd)
      const value = parseValue(raw)
      const file = readConfigFile(dir)
      const next = assign(structuredClone(file), key, value)
      validateConfig(next, `config set ${key}`)
      if (from != null) {
        const top = key.split('.')[0]!
        const r = await (await daemonClient(cmd)).setConfig({ [top]: next[top] })
        if (r.overridden.length > 0)
          out(
            `saved; the daemon keeps the value its environment or start-up flags set: ${r.overridden.join(', ')}`,
          )
        else if (r.restart_needed.length > 0)
          out(`saved; restart the daemon to apply: ${r.restart_needed.join(', ')}`)
        else out('saved and applied')
        return
      }
      writeConfigFile(dir, next)
      out(`saved to ${configPath(dir)}`)
    })
}

/**
 * The one effective config: the running daemon's (it knows its start-up flags and the host and
 * port it listens on), or, when none runs, defaults < config.json < this shell's IPFS_KIT_* env.
 */
async function load(cmd: Command): Promise<{
  dir: string
  effective: Record<string, unknown>
  origins: Record<string, string>
  from?: string
}> {
  const [{ redactConfig, resolveConfig, resolveDataDir }, { findDaemon }] = await Promise.all([
    import('../../config/config.ts'),
    import('../../daemon/lifecycle.ts'),
  ])
  const dir = resolveDataDir(globals(cmd).dataDir)
  const found = await findDaemon(dir)
  if (found.state === 'running') {
    const { DaemonClient } = await import('../../client/daemon-client.ts')
    const view = await new DaemonClient({ dataDir: dir, url: found.daemon.url }).config({ origin: true })
    return { dir, effective: view.config, origins: view.origins, from: found.daemon.url }
  }
  const { config, origins } = resolveConfig(dir)
  return { dir, effective: redactConfig(config) as unknown as Record<string, unknown>, origins }
}

function lookup(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj
  for (const part of key.split('.')) {
    if (cur == null || typeof cur !== 'object' || !(part in cur)) return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function assign(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const parts = key.split('.')
  if (parts.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
    throw new InvalidInputError(`invalid config key "${key}"`)
  }
  let cur = obj
  for (const part of parts.slice(0, -1)) {
    const next = cur[part]
    if (next == null || typeof next !== 'object' || Array.isArray(next)) cur[part] = {}
    cur = cur[part] as Record<string, unknown>
  }
  cur[parts.at(-1)!] = value
  return obj
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}
