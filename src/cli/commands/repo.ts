import type { Command } from 'commander'
import { IpfsKitError } from '../../errors.ts'
import { globals, withRepo } from '../context.ts'
import { runningDaemon } from '../daemon-access.ts'
import { humanBytes, note, out, outJson } from '../output.ts'

/** `ipfs-kit gc` and `ipfs-kit repo ...`: maintenance of the local data directory. */
export function registerRepo(program: Command): void {
  program
    .command('gc')
    .description('remove every stored block that no pin reaches, and reclaim its disk space')
    .addHelpText('after', '\nExample:\n  ipfs-kit gc')
    .action(async (_flags: unknown, cmd: Command) => {
      // with a daemon running, gc runs inside it: it then closes its handles to removed packs and
      // reclaims the packs it wrote itself
      const daemon = await runningDaemon(cmd)
      let r: import('../../content/gc.ts').GcResult
      if (daemon != null) r = await daemon.gc()
      else {
        const { gc } = await import('../../content/gc.ts')
        r = await withRepo(cmd, (repo) => gc(repo))
      }
      if (globals(cmd).json) outJson(r)
      else {
        out(
          `removed ${r.removedBlocks} blocks (${humanBytes(r.removedBytes)}), reclaimed ${r.packsReclaimed} pack files${daemon != null ? ' (in the daemon)' : ''}`,
        )
        for (const d of r.damaged) note(`warning: ${d}`)
        if (r.deferred) note('note: an add kept running; some unreachable blocks are left for the next gc')
      }
    })

  const repo = program.command('repo').description('inspect and check the local data directory')
  repo
    .command('verify')
    .description('re-hash every stored block against its CID; exits 1 if any is corrupt')
    .action(async (_flags: unknown, cmd: Command) => {
      const { verifyAll } = await import('../../blockstore/pack-store.ts')
      await withRepo(cmd, async (r) => {
        let ok = 0
        const bad = []
        for (const result of verifyAll(r.blocks)) {
          if (result.ok) ok++
          else bad.push(result)
        }
        if (globals(cmd).json) outJson({ verified: ok, corrupt: bad })
        else {
          for (const b of bad) out(`corrupt ${b.cid}: ${b.reason} (pack ${b.pack} offset ${b.offset})`)
          out(`verified ${ok} blocks, ${bad.length} corrupt`)
        }
        if (bad.length > 0)
          throw new IpfsKitError('ERR_BLOCK_CORRUPT', `${bad.length} corrupt block(s) found`)
      })
    })

  repo
    .command('stat')
    .description('blocks, bytes and pins in the data directory')
    .action(async (_flags: unknown, cmd: Command) => {
      await withRepo(cmd, async (r) => {
        const { blocks, bytes } = r.blocks.index.count()
        const pins = r.pins.list().length
        if (globals(cmd).json) outJson({ RepoPath: r.dir, NumObjects: blocks, RepoSize: bytes, Pins: pins })
        else {
          out(`RepoPath: ${r.dir}`)
          out(`NumObjects: ${blocks}`)
          out(`RepoSize: ${bytes} (${humanBytes(bytes)})`)
          out(`Pins: ${pins}`)
        }
      })
    })
}
