import { createReadStream, statSync } from 'node:fs'
import type { Command } from 'commander'
import { InvalidInputError, PathError } from '../../errors.ts'
import type { Vfs } from '../../vfs/index.ts'
import { globals, intFlag, withRepo } from '../context.ts'
import { out, outJson } from '../output.ts'

/** Opens the repo and its VFS for one command. */
async function withVfs<T>(cmd: Command, fn: (vfs: Vfs) => Promise<T>): Promise<T> {
  const { Vfs } = await import('../../vfs/index.ts')
  return await withRepo(cmd, async (repo) => {
    const vfs = await Vfs.open(repo)
    try {
      return await fn(vfs)
    } finally {
      await vfs.close()
    }
  })
}

function cidVersionFlag(value: string): 0 | 1 {
  if (value !== '0' && value !== '1')
    throw new InvalidInputError(`invalid --cid-version "${value}": use 0 or 1`)
  return Number(value) as 0 | 1
}

/** `ipfs-kit vfs ...`: a mutable file tree with the semantics (and CIDs) of Kubo's `ipfs files`. */
export function registerVfs(program: Command): void {
  const vfs = program
    .command('vfs')
    .description("a mutable file tree (Kubo's `ipfs files`, same CIDs); every change is durable at once")

  vfs
    .command('ls')
    .description('list a directory (a file lists as itself)')
    .argument('[path]', 'VFS path', '/')
    .option('-l, --long', 'show CIDs and sizes')
    .addHelpText('after', '\nExamples:\n  ipfs-kit vfs ls /\n  ipfs-kit vfs ls -l /photos')
    .action(async (path: string, flags: { long?: boolean }, cmd: Command) => {
      const entries = await withVfs(cmd, (v) => v.ls(path))
      if (globals(cmd).json) {
        outJson({
          Entries: entries.map((e) => ({ Name: e.name, Type: e.type, Size: e.size, Hash: e.cid.toString() })),
        })
        return
      }
      for (const e of entries) {
        const name = e.type === 'directory' ? `${e.name}/` : e.name
        out(flags.long ? `${name}\t${e.cid}\t${e.size}` : name)
      }
    })

  vfs
    .command('stat')
    .description('show the CID, type and sizes of a path (`stat /` is the root CID)')
    .argument('[path]', 'VFS path', '/')
    .option('--hash', 'print only the CID')
    .addHelpText('after', '\nExamples:\n  ipfs-kit vfs stat /\n  ipfs-kit vfs stat --hash /docs/report.pdf')
    .action(async (path: string, flags: { hash?: boolean }, cmd: Command) => {
      const s = await withVfs(cmd, (v) => v.stat(path))
      if (globals(cmd).json) {
        outJson({
          Path: s.path,
          Hash: s.cid.toString(),
          Type: s.type,
          Size: s.size,
          CumulativeSize: s.cumulativeSize,
          Blocks: s.blocks,
        })
      } else if (flags.hash) {
        out(s.cid.toString())
      } else {
        out(s.cid.toString())
        out(`Size: ${s.size}`)
        out(`CumulativeSize: ${s.cumulativeSize}`)
        out(`ChildBlocks: ${s.blocks}`)
        out(`Type: ${s.type}`)
      }
    })

  vfs
    .command('read')
    .description("write a file's bytes to stdout")
    .argument('<path>', 'VFS path of a file')
    .option('-o, --offset <bytes>', 'start at this byte', intFlag('--offset'))
    .option('-n, --count <bytes>', 'read at most this many bytes', intFlag('--count'))
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit vfs read /notes.txt\n  ipfs-kit vfs read /big.bin --offset 1048576 --count 100',
    )
    .action(async (path: string, flags: { offset?: number; count?: number }, cmd: Command) => {
      const { toStdout } = await import('../stdout.ts')
      await withVfs(cmd, (v) => toStdout(v.read(path, { offset: flags.offset, length: flags.count })))
    })

  vfs
    .command('write')
    .description('write stdin or a file into a VFS file (as `ipfs files write`)')
    .argument('<path>', 'VFS path of the file')
    .argument('[file]', 'local file to read; none or "-" reads stdin')
    .option('-e, --create', 'create the file if it does not exist')
    .option('-p, --parents', 'make parent directories as needed')
    .option('-t, --truncate', 'truncate the file to zero bytes before writing')
    .option('-o, --offset <bytes>', 'byte offset to start writing at', intFlag('--offset'))
    .option('-n, --count <bytes>', 'write at most this many bytes of the input', intFlag('--count'))
    .option('--raw-leaves', 'use raw blocks for new leaves (default with CIDv1 files)')
    .option(
      '--cid-version <n>',
      'CID version of a new file and new parents: 0 (default) or 1',
      cidVersionFlag,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  echo hello | ipfs-kit vfs write --create --parents /notes/hello.txt\n  ipfs-kit vfs write --create --truncate /backup/db.sqlite ./db.sqlite\n  ipfs-kit vfs write --offset 6 /notes/hello.txt ./patch.txt',
    )
    .action(async (path: string, file: string | undefined, flags: WriteFlags, cmd: Command) => {
      const source: AsyncIterable<Uint8Array> =
        file == null || file === '-'
          ? process.stdin
          : createReadStream(checkFile(file), { highWaterMark: 1 << 20 })
      const r = await withVfs(cmd, (v) =>
        v.write(path, source, {
          create: flags.create,
          parents: flags.parents,
          truncate: flags.truncate,
          offset: flags.offset,
          count: flags.count,
          rawLeaves: flags.rawLeaves,
          cidVersion: flags.cidVersion,
        }),
      )
      if (globals(cmd).json) outJson({ Path: r.path, Hash: r.cid.toString(), Size: r.size })
    })

  vfs
    .command('mkdir')
    .description('make a directory')
    .argument('<path>', 'VFS path')
    .option('-p, --parents', 'no error if it exists; make parent directories as needed')
    .option('--cid-version <n>', 'CID version of the new directories: 0 (default) or 1', cidVersionFlag)
    .addHelpText('after', '\nExample:\n  ipfs-kit vfs mkdir -p /photos/2026')
    .action(async (path: string, flags: { parents?: boolean; cidVersion?: 0 | 1 }, cmd: Command) => {
      await withVfs(cmd, (v) => v.mkdir(path, flags))
      if (globals(cmd).json) outJson({ Path: path })
    })

  vfs
    .command('rm')
    .description('remove files or directories (blocks are freed by `ipfs-kit gc`)')
    .argument('<paths...>', 'VFS paths')
    .option('-r, --recursive', 'remove directories and their contents')
    .option('-f, --force', 'ignore missing paths; remove directories without -r')
    .addHelpText('after', '\nExamples:\n  ipfs-kit vfs rm /notes/old.txt\n  ipfs-kit vfs rm -r /tmp-results')
    .action(async (paths: string[], flags: { recursive?: boolean; force?: boolean }, cmd: Command) => {
      const removed = await withVfs(cmd, async (v) => {
        const done: string[] = []
        for (const p of paths) if ((await v.rm(p, flags)).removed) done.push(p)
        return done
      })
      if (globals(cmd).json) outJson({ Removed: removed })
    })

  vfs
    .command('mv')
    .description('move or rename (into a directory when the target is one or ends in "/")')
    .argument('<from>', 'VFS path')
    .argument('<to>', 'VFS path')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit vfs mv /draft.txt /final.txt\n  ipfs-kit vfs mv /final.txt /archive/',
    )
    .action(async (from: string, to: string, _flags: unknown, cmd: Command) => {
      const r = await withVfs(cmd, (v) => v.mv(from, to))
      if (globals(cmd).json) outJson({ From: r.from, To: r.to })
    })

  vfs
    .command('cp')
    .description('link /ipfs/<cid>[/path] or another VFS path at a new path (no data is copied)')
    .argument('<from>', '/ipfs/<cid>[/path] or a VFS path')
    .argument('<to>', 'VFS path ("/dir/" keeps the source name)')
    .option('-p, --parents', 'make parent directories as needed')
    .option('-f, --force', 'replace the destination if it exists')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit vfs cp /ipfs/QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o /hello.txt\n  ipfs-kit vfs cp /photos /backup/photos-2026',
    )
    .action(async (from: string, to: string, flags: { parents?: boolean; force?: boolean }, cmd: Command) => {
      const r = await withVfs(cmd, (v) => v.cp(from, to, flags))
      if (globals(cmd).json) outJson({ From: r.from, To: r.to, Hash: r.cid.toString() })
    })

  vfs
    .command('flush')
    .description('print the CID of a path (changes are always flushed and durable already)')
    .argument('[path]', 'VFS path', '/')
    .addHelpText('after', '\nExample:\n  ipfs-kit vfs flush /')
    .action(async (path: string, _flags: unknown, cmd: Command) => {
      const cid = await withVfs(cmd, (v) => v.flush(path))
      if (globals(cmd).json) outJson({ Cid: cid.toString() })
      else out(cid.toString())
    })
}

/** A local input file, checked before the VFS is touched. */
function checkFile(path: string): string {
  let isFile: boolean
  try {
    isFile = statSync(path).isFile()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new PathError(code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${code}`)
  }
  if (!isFile) throw new PathError(`${path} is not a regular file: give a file, or "-" for stdin`)
  return path
}

interface WriteFlags {
  create?: boolean
  parents?: boolean
  truncate?: boolean
  offset?: number
  count?: number
  rawLeaves?: boolean
  cidVersion?: 0 | 1
}
