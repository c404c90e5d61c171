import type { Command } from 'commander'
import { parseSize } from '../../config/size.ts'
import { collect, globals, intFlag } from '../context.ts'
import { humanBytes, out, outJson } from '../output.ts'

/** `ipfs-kit route stats|suggest|inspect`: answered from the pin index, no daemon needed. */
export function registerRoute(program: Command): void {
  const route = program
    .command('route')
    .description('where content is and where it would go, from the pin index (no daemon needed)')

  route
    .command('inspect <cid>')
    .description('backends holding verified copies of a CID, best first')
    .addHelpText(
      'after',
      '\nExample:\n  ipfs-kit route inspect bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
    )
    .action(async (cid: string, _f: unknown, cmd: Command) => {
      const reader = await open(cmd)
      const r = await reader.inspect(cid)
      if (globals(cmd).json) return outJson(r)
      if (!r.pinned) return out(`${r.cid}: not pinned`)
      out(
        `${r.cid}${r.name ? ` (${r.name})` : ''}: ${r.status}${r.size == null ? '' : `, ${humanBytes(r.size)}`}`,
      )
      if (r.routes.length === 0) out('  no verified copy')
      for (const [i, x] of r.routes.entries()) {
        out(
          `  ${i + 1}. ${x.backend}  ${x.status}${x.latencyMs == null ? '' : `  ${x.latencyMs.toFixed(1)} ms`}  verified ${x.verifiedAt?.toISOString() ?? '-'}${x.detail ? `  (${x.detail})` : ''}`,
        )
      }
      for (const x of r.replicas.filter((y) => y.state !== 'verified')) out(`  -  ${x.backend}  ${x.state}`)
    })

  route
    .command('suggest')
    .description('where a new pin would go under the policy, and why')
    .option('--size <bytes>', 'size of the content (e.g. 5GB)', (v) => parseSize(v))
    .option('--replicas <n>', 'how many copies (default: the policy minimum)', intFlag('--replicas', 1))
    .option('--prefer <backend>', 'preferred backend (repeatable)', collect)
    .option('--exclude <backend>', 'excluded backend (repeatable)', collect)
    .action(
      async (
        flags: { size?: number; replicas?: number; prefer?: string[]; exclude?: string[] },
        cmd: Command,
      ) => {
        const reader = await open(cmd)
        const r = reader.suggest({
          size: flags.size,
          replicas: flags.replicas,
          preferred: flags.prefer,
          excluded: flags.exclude,
        })
        if (globals(cmd).json) return outJson(r)
        out(`${r.replicas} replica(s) of ${humanBytes(r.size)}:`)
        for (const t of r.targets) out(`  -> ${t.backend}: ${t.reason}`)
        if (r.targets.length < r.replicas)
          out(`  only ${r.targets.length} usable backend(s) for ${r.replicas} replicas`)
        for (const x of r.rejected) out(`  x  ${x.backend}: ${x.reason}`)
      },
    )

  route
    .command('stats')
    .description('pins and bytes per backend, and replication health')
    .action(async (_f: unknown, cmd: Command) => {
      const reader = await open(cmd)
      const s = await reader.stats()
      if (globals(cmd).json) return outJson(s)
      out(
        `pins: ${s.pins} (${
          Object.entries(s.byStatus)
            .map(([k, v]) => `${v} ${k}`)
            .join(', ') || 'none'
        }), ${humanBytes(s.bytes)}`,
      )
      out(`under-replicated: ${s.underReplicated}`)
      out('BACKEND  STATUS  PINS  VERIFIED  BYTES')
      for (const b of s.backends)
        out(`${b.backend}  ${b.status}  ${b.pins}  ${b.verified}  ${humanBytes(b.bytes)}`)
    })
}

async function open(cmd: Command) {
  const [{ RouteReader }, { resolveDataDir }] = await Promise.all([
    import('../../client/route-reader.ts'),
    import('../../config/config.ts'),
  ])
  return new RouteReader({ dataDir: resolveDataDir(globals(cmd).dataDir) })
}
