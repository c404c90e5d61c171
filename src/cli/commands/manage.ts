import type { Command } from 'commander'
import type { SyncEvent } from '../../client/daemon-client.ts'
import { parseCid } from '../../content/cid.ts'
import { InvalidInputError, IpfsKitError } from '../../errors.ts'
import { collect, globals, intFlag } from '../context.ts'
import { daemonClient } from '../daemon-access.ts'
import { humanBytes, note, out, outJson } from '../output.ts'

type Row = Record<string, unknown>

/** Prints rows as an aligned table (or JSON with --json). */
function table(cmd: Command, value: unknown, rows: Row[], columns: string[]): void {
  if (globals(cmd).json) {
    outJson(value)
    return
  }
  printRows(rows, columns, true)
}

/** One pin of `GET /pins` as a row of `pin list`. */
function pinRow(p: Row): Row {
  const info = p.info as { verified: string[]; health: string }
  const pinInfo = p.pin as { name?: string }
  return {
    cid: p.requestid,
    name: pinInfo.name,
    status: p.status,
    health: info.health,
    replicas: info.verified.join(','),
  }
}

/** Rows aligned in columns, with the header row when `header`. */
function printRows(rows: Row[], columns: string[], header: boolean): void {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '-')))
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)))
  if (header)
    out(
      columns
        .map((c, i) => c.toUpperCase().padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
  for (const row of cells)
    out(
      row
        .map((v, i) => v.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
}

/** `ipfs-kit backend ...`, `pin ...`, `replication ...`: management through the daemon. */
export function registerManage(program: Command): void {
  const backend = program
    .command('backend')
    .description('list, probe, start and stop storage backends (needs the daemon)')
  backend
    .command('list')
    .description('every backend with its type, state and health')
    .action(async (_f: unknown, cmd: Command) => {
      const r = await (await daemonClient(cmd)).backends()
      const rows = r.backends.map((b) => {
        const h = b.health as { status?: string; latencyMs?: number; freeBytes?: number } | null
        return {
          name: b.name,
          type: b.type,
          state: b.state,
          health: h?.status,
          latency: h?.latencyMs == null ? undefined : `${h.latencyMs.toFixed(1)} ms`,
          free: h?.freeBytes == null ? undefined : humanBytes(h.freeBytes),
        }
      })
      table(cmd, r, rows, ['name', 'type', 'state', 'health', 'latency', 'free'])
    })
  backend
    .command('health')
    .description('probe every backend now and print its health')
    .action(async (_f: unknown, cmd: Command) => {
      const r = await (await daemonClient(cmd)).backendsHealth(true)
      const rows = Object.entries(r).map(([name, h]) => ({ name, ...h }))
      table(cmd, r, rows, ['name', 'state', 'status', 'latencyMs', 'error'])
    })
  backend
    .command('add <name>')
    .description('add a backend: saved in config.json, and started at once by a running daemon')
    .requiredOption(
      '--type <type>',
      "backend type: filesystem, kubo, s3 (see the README for each one's keys)",
    )
    .option(
      '--set <key=value>',
      "a key of the type's config (repeatable); a value that parses as JSON is taken as JSON",
      collect,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit backend add nas --type filesystem --set path=/mnt/nas/ipfs\n' +
        '  ipfs-kit backend add kubo1 --type kubo --set api_url=http://127.0.0.1:5001\n' +
        '  ipfs-kit backend add bucket --type s3 --set endpoint=http://127.0.0.1:7070 --set bucket=pins --set create_bucket=true',
    )
    .action(async (name: string, flags: { type: string; set?: string[] }, cmd: Command) => {
      const entry: Record<string, unknown> = { name, type: flags.type }
      for (const pair of flags.set ?? []) {
        const eq = pair.indexOf('=')
        if (eq <= 0) throw new InvalidInputError(`invalid --set "${pair}": expected KEY=VALUE`)
        const key = pair.slice(0, eq)
        if (key === 'name' || key === 'type')
          throw new InvalidInputError(`--set ${key}: give it as the argument or --type`)
        entry[key] = parseValue(pair.slice(eq + 1))
      }
      const { checkBackendEntry } = await import('../../backends/registry.ts')
      checkBackendEntry(entry, `backends["${name}"]`)
      const { runningDaemon } = await import('../daemon-access.ts')
      const daemon = await runningDaemon(cmd)
      if (daemon != null) {
        const r = await daemon.addBackend(entry as { name: string; type: string })
        if (globals(cmd).json) outJson(r)
        else out(`${name}: added, ${String(r.backend.state)}`)
        return
      }
      await editBackends(cmd, (list) => {
        if (name === 'local' || list.some((b) => b.name === name)) {
          throw new InvalidInputError(`a backend named "${name}" exists: remove it first`)
        }
        return [...list, entry]
      })
      if (globals(cmd).json) outJson({ backend: { name, type: flags.type, state: 'stopped' } })
      else out(`${name}: added to config.json (the daemon starts it when it starts)`)
    })
  backend
    .command('remove <name>')
    .description(
      'remove a backend from config.json; a running daemon stops it at once and its replicas stop counting',
    )
    .addHelpText('after', '\nExample:\n  ipfs-kit backend remove nas')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const { runningDaemon } = await import('../daemon-access.ts')
      const daemon = await runningDaemon(cmd)
      if (daemon != null) await daemon.removeBackend(name)
      else
        await editBackends(cmd, (list) => {
          if (!list.some((b) => b.name === name)) {
            throw new IpfsKitError('ERR_NOT_FOUND', `no backend named "${name}" in config.json`)
          }
          return list.filter((b) => b.name !== name)
        })
      if (globals(cmd).json) outJson({ removed: name })
      else out(`${name}: removed`)
    })
  for (const verb of ['start', 'stop'] as const) {
    backend
      .command(`${verb} <name>`)
      .description(`${verb} a backend (remembered across daemon restarts)`)
      .addHelpText('after', `\nExample:\n  ipfs-kit backend ${verb} nas`)
      .action(async (name: string, _f: unknown, cmd: Command) => {
        const c = await daemonClient(cmd)
        const r = verb === 'start' ? await c.startBackend(name) : await c.stopBackend(name)
        if (globals(cmd).json) outJson(r)
        else out(`${name}: ${String(r.backend.state)}`)
      })
  }
  backend
    .command('logs <name>')
    .description('the last lines of a backend log (or "daemon")')
    .option('-n, --lines <n>', 'how many lines', intFlag('--lines', 1), 50)
    .option('-f, --follow', 'keep printing new lines until interrupted')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit backend logs nas -n 20\n  ipfs-kit backend logs daemon --follow',
    )
    .action(async (name: string, flags: { lines: number; follow?: boolean }, cmd: Command) => {
      const c = await daemonClient(cmd)
      let last = (await c.logs(name, flags.lines)).lines
      if (globals(cmd).json && !flags.follow) return outJson({ name, lines: last })
      for (const l of last) out(l)
      while (flags.follow) {
        await new Promise((r) => setTimeout(r, 1000))
        const now = (await c.logs(name, 1000)).lines
        const seen = now.lastIndexOf(last.at(-1) ?? '')
        for (const l of now.slice(seen + 1)) out(l)
        last = now
      }
    })

  const pin = program
    .command('pin')
    .description('pin, unpin and list pins with a replication policy (needs the daemon)')
  pin
    .command('add <cid>')
    .description('pin a CID; the daemon replicates it by its policy')
    .option('--name <name>', 'a name for the pin')
    .option('--min <n>', 'minimum verified replicas', intFlag('--min', 1))
    .option('--max <n>', 'maximum replicas', intFlag('--max', 1))
    .option('--prefer <backend>', 'preferred backend (repeatable, in order)', collect)
    .option('--exclude <backend>', 'backend never to use (repeatable)', collect)
    .addHelpText(
      'after',
      '\nExample:\n  ipfs-kit pin add bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi --name photos --min 2',
    )
    .action(
      async (
        cidArg: string,
        flags: { name?: string; min?: number; max?: number; prefer?: string[]; exclude?: string[] },
        cmd: Command,
      ) => {
        const cid = parseCid(cidArg).toString()
        if (flags.name != null && flags.name.length > 255)
          throw new InvalidInputError('--name is longer than 255 characters')
        const r = await (await daemonClient(cmd)).pin(cid, {
          name: flags.name,
          policy: {
            min_replicas: flags.min,
            max_replicas: flags.max,
            preferred: flags.prefer,
            excluded: flags.exclude,
          },
        })
        if (globals(cmd).json) outJson(r)
        else out(`pinned ${cid} (${String(r.status)})`)
      },
    )
  pin
    .command('remove <cid>')
    .alias('rm')
    .description('unpin a CID from every backend')
    .addHelpText('after', '\nExample:\n  ipfs-kit pin rm QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o')
    .action(async (cidArg: string, _f: unknown, cmd: Command) => {
      const cid = parseCid(cidArg).toString()
      await (await daemonClient(cmd)).unpin(cid)
      if (globals(cmd).json) outJson({ removed: cid })
      else out(`unpinned ${cid}`)
    })
  pin
    .command('list')
    .alias('ls')
    .description('pins with their status and verified replicas, newest first, one page at a time')
    .option(
      '--status <status>',
      'only pins in this status: queued, pinning, pinned, failed (comma-separated)',
    )
    .option('--name <name>', 'only pins with this name')
    .option('--limit <n>', 'pins per page (at most 1000)', intFlag('--limit', 1), 100)
    .option(
      '--before <cid|time>',
      'the next page: pins listed after this CID (or created before an ISO time)',
    )
    .option('--after <cid|time>', 'pins listed before this CID (or created after an ISO time)')
    .option('--all', 'every pin, page after page, printed as each page arrives (--json: one pin per line)')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit pin list --limit 50\n  ipfs-kit pin list --limit 50 --before bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy\n  ipfs-kit pin list --all --json > pins.ndjson',
    )
    .action(
      async (
        flags: {
          status?: string
          name?: string
          limit: number
          before?: string
          after?: string
          all?: boolean
        },
        cmd: Command,
      ) => {
        if (flags.limit > 1000)
          throw new InvalidInputError('--limit must be at most 1000 (use --all for every pin)')
        const client = await daemonClient(cmd)
        const json = globals(cmd).json
        const query = { status: flags.status, name: flags.name, before: flags.before, after: flags.after }
        const columns = ['cid', 'name', 'status', 'health', 'replicas']
        if (flags.all) {
          let page: Row[] = []
          let header = true
          const flush = () => {
            if (page.length > 0) printRows(page, columns, header)
            header = false
            page = []
          }
          for await (const p of client.allPins(query, flags.limit)) {
            if (json) outJson(p)
            else page.push(pinRow(p))
            if (page.length >= flags.limit) flush()
          }
          if (!json) flush()
          return
        }
        const r = await client.pins({ ...query, limit: flags.limit })
        table(cmd, r, r.results.map(pinRow), columns)
        if (!json && r.results.length === flags.limit && r.count > flags.limit) {
          note(
            `${r.results.length} of ${r.count} pins; the next page: ipfs-kit pin list --before ${String(r.results.at(-1)!.requestid)}`,
          )
        }
      },
    )
  pin
    .command('status <cid>')
    .description('one pin: its policy and every replica')
    .addHelpText(
      'after',
      '\nExample:\n  ipfs-kit pin status QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --json',
    )
    .action(async (cidArg: string, _f: unknown, cmd: Command) => {
      const r = await (await daemonClient(cmd)).getPin(parseCid(cidArg).toString())
      const info = r.info as { replicas: Row[]; health: string; error: string | null; policy: Row }
      if (globals(cmd).json) return outJson(r)
      out(
        `${String(r.requestid)}: ${String(r.status)} (${info.health})${info.error ? ` - ${info.error}` : ''}`,
      )
      out(`policy: min ${String(info.policy.min)}, max ${String(info.policy.max)}`)
      table(cmd, r, info.replicas, ['backend', 'state', 'verifiedAt', 'detail', 'error'])
    })

  const repl = program.command('replication').description('replication status and sync (needs the daemon)')
  repl
    .command('status')
    .description('totals and per-pin replication state')
    .action(async (_f: unknown, cmd: Command) => {
      const r = await (await daemonClient(cmd)).replicationStatus()
      if (globals(cmd).json) return outJson(r)
      out(
        `totals: ${Object.entries(r.totals as Row)
          .map(([k, v]) => `${k} ${String(v)}`)
          .join(', ')}`,
      )
      const rows = (r.pins as Row[]).map((p) => ({
        cid: p.cid,
        health: p.health,
        verified: (p.verified as string[]).join(','),
        error: p.error,
      }))
      table(cmd, r, rows, ['cid', 'health', 'verified', 'error'])
    })
  repl
    .command('sync')
    .description('run a replication pass now')
    .option('--wait', 'wait until it completes and print the report')
    .option('--verify', 're-read and re-hash every replica')
    .action(async (flags: { wait?: boolean; verify?: boolean }, cmd: Command) => {
      const client = await daemonClient(cmd)
      // --wait follows the pass on /events, so a sync of any length ends only when it is done (or ^C)
      const bar = flags.wait && process.stderr.isTTY && !globals(cmd).json ? await syncProgress() : undefined
      const r = await client
        .sync({ wait: flags.wait === true, verify: flags.verify === true, onEvent: bar?.update })
        .finally(() => bar?.stop())
      if (globals(cmd).json) return outJson(r)
      if (!flags.wait) return out('sync started')
      const rep = r.report as Row
      out(
        `synced ${String(rep.pins)} pins in ${String(rep.ms)} ms: ${String(rep.copied)} copied, ${String(rep.verified)} verified, ${String(rep.failed)} failed, ${String(rep.removed)} removed, ${String(rep.swept ?? 0)} swept`,
      )
    })
}

/** A progress bar on stderr, drawn from the pass's replication events. */
async function syncProgress(): Promise<{ update: (e: SyncEvent) => void; stop: () => void }> {
  const { Progress } = await import('../progress.ts')
  let bar: InstanceType<typeof Progress> | undefined
  return {
    update(e) {
      const pins = Number(e.pins)
      if (e.phase === 'started' || bar == null) bar = new Progress('syncing', pins, true, (n) => `${n} pins`)
      bar.update(e.phase === 'finished' ? pins : Number(e.done ?? 0))
    },
    stop() {
      bar?.complete()
      bar?.done()
    },
  }
}

/** A `--set` value: JSON when it parses as JSON (numbers, booleans, arrays), else the string itself. */
function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

/** Rewrites the backends of config.json (atomically) when no daemon runs. */
async function editBackends(
  cmd: Command,
  edit: (list: Record<string, unknown>[]) => Record<string, unknown>[],
): Promise<void> {
  const { readConfigFile, resolveDataDir, validateConfig, writeConfigFile } = await import(
    '../../config/config.ts'
  )
  const dir = resolveDataDir(globals(cmd).dataDir)
  const file = readConfigFile(dir)
  const list = Array.isArray(file.backends) ? (file.backends as Record<string, unknown>[]) : []
  const next = { ...file, backends: edit(list) }
  validateConfig(next, 'config.json')
  writeConfigFile(dir, next)
}
