import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import type { Command } from 'commander'
import type { LsEntry } from '../../content/ls.ts'
import { InterruptedError, InvalidInputError, PathError } from '../../errors.ts'
import type { Repo } from '../../repo.ts'
import { collect, globals, intFlag, withRepo } from '../context.ts'
import { humanBytes, note, out, outJson } from '../output.ts'
import { Progress } from '../progress.ts'

interface FetchFlags {
  peer?: string[]
  timeout?: number
  verify?: boolean
}

/** `ipfs-kit ipfs ...`: content commands that use the library directly, no daemon involved. */
export function registerIpfs(program: Command): void {
  const ipfs = program.command('ipfs').description('add and read content directly (no daemon needed)')

  ipfs
    .command('add')
    .description('add files, directories (-r) or stdin, with the CIDs Kubo would give')
    .argument('[paths...]', 'files or directories; none or "-" reads stdin')
    .option('-r, --recursive', 'add directories recursively')
    .option('-H, --hidden', 'include files whose names start with a dot')
    .option('--cid-version <n>', 'CID version: 0 (default, as Kubo) or 1', intFlag('--cid-version'))
    .option('--raw-leaves', 'use raw blocks for leaves (default with --cid-version 1)')
    .option('--no-raw-leaves', 'use dag-pb leaves even with --cid-version 1')
    .option('--chunker <spec>', 'chunking: size-N bytes', 'size-262144')
    .option('-n, --only-hash', 'only compute CIDs; store nothing')
    .option('-w, --wrap-with-directory', 'wrap the added items in a directory')
    .option('-q, --quiet', 'print only CIDs')
    .option('-Q, --quieter', 'print only the final root CID')
    .option('--pin [bool]', 'pin the added roots (default true)', parseBool, true)
    .option('--progress', 'show a progress bar on stderr (default on a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n  ipfs-kit ipfs add photo.jpg\n  ipfs-kit ipfs add -r ./site --cid-version 1\n  echo hi | ipfs-kit ipfs add -q',
    )
    .action(async (paths: string[], flags: AddFlags, cmd: Command) => {
      const { add, inputSize } = await import('../../content/add.ts')
      const json = globals(cmd).json === true
      const useStdin = paths.length === 0 || (paths.length === 1 && paths[0] === '-')
      const cidVersion = flags.cidVersion as 0 | 1 | undefined
      const cidOpts = {
        cidVersion,
        rawLeaves: flags.rawLeaves,
        chunker: flags.chunker,
        wrapWithDirectory: flags.wrapWithDirectory,
        recursive: flags.recursive,
        hidden: flags.hidden,
        onlyHash: flags.onlyHash,
        pin: flags.pin,
      }
      const source = useStdin ? { stream: process.stdin as AsyncIterable<Uint8Array> } : { paths }
      const showProgress = (flags.progress === true || process.stderr.isTTY) && !useStdin && !flags.quieter
      const bar = showProgress ? new Progress('adding', inputSize(paths, cidOpts), true) : undefined
      const run = (repo: Repo | undefined) =>
        add(repo, source, { ...cidOpts, onBytes: (n) => bar?.update(n) })
      const entries = flags.onlyHash ? await run(undefined) : await withRepo(cmd, run)
      bar?.done()
      if (flags.quieter) {
        const last = entries.at(-1)
        if (last != null) out(json ? JSON.stringify({ Hash: last.cid.toString() }) : last.cid.toString())
        return
      }
      for (const e of entries) {
        if (json) outJson({ Name: e.path, Hash: e.cid.toString(), Size: e.size })
        else if (flags.quiet) out(e.cid.toString())
        else out(`added ${e.cid} ${e.path}`)
      }
    })

  withFetchFlags(
    ipfs
      .command('cat')
      .description("write a file's bytes to stdout")
      .argument('<path>', 'a CID or /ipfs/<cid>/path')
      .option('-o, --offset <bytes>', 'start at this byte', intFlag('--offset'))
      .option('-l, --length <bytes>', 'write at most this many bytes', intFlag('--length'))
      .addHelpText('after', '\nExample:\n  ipfs-kit ipfs cat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'),
  ).action(async (path: string, flags: FetchFlags & { offset?: number; length?: number }, cmd: Command) => {
    const [{ cat }, { toStdout }, { SpanPool }, { COALESCE_BYTES }] = await Promise.all([
      import('../../content/cat.ts'),
      import('../stdout.ts'),
      import('../../blockstore/span-pool.ts'),
      import('../../blockstore/pack-store.ts'),
    ])
    await withReader(cmd, flags, async (store) => {
      // read spans reused once written (see SpanPool): fewer fresh buffers, fewer collections
      const spans = new SpanPool(COALESCE_BYTES)
      const { offset, length } = flags
      await toStdout(cat(store, path, { offset, length, spans }), (chunk) => spans.release(chunk))
    })
  })

  withFetchFlags(
    ipfs
      .command('get')
      .description('write a file or a whole directory tree to disk')
      .argument('<path>', 'a CID or /ipfs/<cid>/path')
      .option('-o, --output <path>', 'where to write it (default: the CID)')
      .addHelpText(
        'after',
        '\nExample:\n  ipfs-kit ipfs get bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi -o ./site',
      ),
  ).action(async (path: string, flags: FetchFlags & { output?: string }, cmd: Command) => {
    const [{ get }, { parseIpfsPath }] = await Promise.all([
      import('../../content/get.ts'),
      import('../../content/cid.ts'),
    ])
    const target = flags.output ?? parseIpfsPath(path).text.split('/').at(-1)!
    await withReader(cmd, flags, async (store) => {
      const files = await onInterrupt((signal) => get(store, path, target, { signal }))
      if (globals(cmd).json) outJson({ Path: target, Files: files })
      else note(`Saved ${files} file(s) to ${target}`)
    })
  })

  withFetchFlags(
    ipfs
      .command('ls')
      .description('list the entries of a directory, sorted by name, in aligned columns (as Kubo)')
      .argument('<path>', 'a CID or /ipfs/<cid>/path')
      .option(
        '-s, --stream',
        "print entries as the directory's blocks are read: in link order (a HAMT's shard order), not held in memory",
      )
      .addHelpText(
        'after',
        '\nExamples:\n  ipfs-kit ipfs ls bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n  ipfs-kit ipfs ls /ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/docs\n  ipfs-kit ipfs ls --stream bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi\n  (--stream: link order, for a directory too large to hold)',
      ),
  ).action(async (path: string, flags: FetchFlags & { stream?: boolean }, cmd: Command) => {
    const { lsEntries, lsLines, sortByName } = await import('../../content/ls.ts')
    await withReader(cmd, flags, async (store) => {
      const json = globals(cmd).json === true
      if (flags.stream === true && !json) {
        // Kubo's --stream: each line aligned alone (columns at least 10 wide); a write per 1,000
        let batch: string[] = []
        for await (const e of lsEntries(store, path)) {
          batch.push(lsLines([e], 10)[0]!)
          if (batch.length === 1000) {
            out(batch.join('\n'))
            batch = []
          }
        }
        if (batch.length > 0) out(batch.join('\n'))
        return
      }
      let entries: LsEntry[] = []
      for await (const e of lsEntries(store, path)) entries.push(e)
      if (flags.stream !== true) entries = sortByName(entries)
      if (json) {
        outJson({
          Objects: [
            {
              Hash: path,
              Links: entries.map((e) => ({
                Name: e.name,
                Hash: e.cid.toString(),
                Size: e.size,
                Type: e.type,
              })),
            },
          ],
        })
        return
      }
      // a write per 1,000 lines, not per line: a 30,000-entry directory spent 0.1 s in write(2)
      const lines = lsLines(entries, 1)
      for (let i = 0; i < lines.length; i += 1000) out(lines.slice(i, i + 1000).join('\n'))
    })
  })

  withFetchFlags(
    ipfs
      .command('stat')
      .description('size, type and block count of a file or directory')
      .argument('<path>', 'a CID or /ipfs/<cid>/path')
      .addHelpText(
        'after',
        '\nExample:\n  ipfs-kit ipfs stat QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o --json',
      ),
  ).action(async (path: string, flags: FetchFlags, cmd: Command) => {
    const { stat } = await import('../../content/stat.ts')
    await withReader(cmd, flags, async (store) => {
      const s = await stat(store, path)
      if (globals(cmd).json) {
        outJson({
          Hash: s.cid.toString(),
          Size: s.size,
          CumulativeSize: s.cumulativeSize,
          Blocks: s.blocks,
          ChildBlocks: s.childBlocks,
          Type: s.type,
        })
        return
      }
      out(s.cid.toString())
      out(`Size: ${s.size}`)
      out(`CumulativeSize: ${s.cumulativeSize}`)
      out(`ChildBlocks: ${s.childBlocks}`)
      out(`Blocks: ${s.blocks}`)
      out(`Type: ${s.type}`)
    })
  })

  ipfs
    .command('id')
    .description("this node's peer ID, public key and listen addresses")
    .action(async (_flags: unknown, cmd: Command) => {
      const [{ loadOrCreateIdentity }, { peerIdFromPrivateKey }, { publicKeyToProtobuf }, { version }] =
        await Promise.all([
          import('../../node/identity.ts'),
          import('@libp2p/peer-id'),
          import('@libp2p/crypto/keys'),
          import('../../version.ts'),
        ])
      await withRepo(cmd, async (repo) => {
        const key = await loadOrCreateIdentity(repo.dir)
        const id = peerIdFromPrivateKey(key).toString()
        const info = {
          ID: id,
          PublicKey: Buffer.from(publicKeyToProtobuf(key.publicKey)).toString('base64'),
          Addresses: repo.config.node.listen.map((a) => `${a}/p2p/${id}`),
          AgentVersion: `ipfs-kit/${version}`,
          Protocols: ['/ipfs/bitswap/1.2.0', '/ipfs/id/1.0.0'],
        }
        out(JSON.stringify(info, null, globals(cmd).json ? undefined : 2))
      })
    })

  ipfs
    .command('serve')
    .description('run the embedded node in the foreground, serving local blocks to peers over bitswap')
    .option('--listen <multiaddr>', 'listen address (repeatable; default: node.listen in config)', collect)
    .option('--peer <multiaddr>', 'peer to connect to (repeatable)', collect)
    .addHelpText('after', '\nExample:\n  ipfs-kit ipfs serve --listen /ip4/127.0.0.1/tcp/4101')
    .action(async (flags: { listen?: string[]; peer?: string[] }, cmd: Command) => {
      const { startNode } = await import('../../node/embedded.ts')
      await withRepo(cmd, async (repo) => {
        const node = await startNode(repo, {
          listen: flags.listen ?? repo.config.node.listen,
          peers: flags.peer ?? repo.config.node.peers,
        })
        const addrs = node.libp2p.getMultiaddrs().map((a) => a.toString())
        if (globals(cmd).json) outJson({ ID: node.libp2p.peerId.toString(), Addresses: addrs })
        else for (const a of addrs) out(a)
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve)
          process.once('SIGTERM', resolve)
        })
        await node.stop()
      })
    })

  const dag = ipfs.command('dag').description('export and import whole DAGs as CAR files')
  withFetchFlags(
    dag
      .command('export')
      .description('write the DAG under a CID as a CARv1 to stdout (or -o)')
      .argument('<cid>', 'root CID')
      .option('-o, --output <file>', 'write to this file instead of stdout')
      .addHelpText(
        'after',
        '\nExample:\n  ipfs-kit ipfs dag export bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi > dag.car',
      ),
  ).action(async (cidArg: string, flags: FetchFlags & { output?: string }, cmd: Command) => {
    const [{ exportCar }, { parseCid }] = await Promise.all([
      import('../../content/car.ts'),
      import('../../content/cid.ts'),
    ])
    const root = parseCid(cidArg)
    await withReader(cmd, flags, async (store) => {
      if (flags.output == null) {
        await pipeline(exportCar(store, root), process.stdout, { end: false })
        return
      }
      const output = flags.output
      const tmp = `${output}.ipfs-kit-partial`
      try {
        await onInterrupt((signal) =>
          pipeline(exportCar(store, root, { signal }), createWriteStream(tmp, { flags: 'wx' }), { signal }),
        )
        renameSync(tmp, output)
      } catch (err) {
        rmSync(tmp, { force: true })
        throw err
      }
    })
  })

  dag
    .command('import')
    .description('import CARv1 files (or stdin), checking every block against its CID')
    .argument('[files...]', 'CAR files; none or "-" reads stdin')
    .option('--pin-roots [bool]', 'pin the roots of each CAR (default true)', parseBool, true)
    .addHelpText('after', '\nExample:\n  ipfs-kit ipfs dag import dag.car')
    .action(async (files: string[], flags: { pinRoots: boolean }, cmd: Command) => {
      const { importCar } = await import('../../content/car.ts')
      const sources = files.length === 0 || (files.length === 1 && files[0] === '-') ? ['-'] : files
      await withRepo(cmd, async (repo) => {
        for (const file of sources) {
          const stream = file === '-' ? process.stdin : openCar(file)
          const r = await importCar(repo, stream, { pinRoots: flags.pinRoots })
          if (globals(cmd).json) {
            for (const root of r.roots) outJson({ Root: { Cid: root.toString(), PinErrorMsg: '' } })
            outJson({ Stats: { BlockCount: r.blocks, BlockBytesCount: r.bytes } })
          } else {
            for (const root of r.roots)
              out(flags.pinRoots ? `Pinned root ${root} success` : `Imported root ${root}`)
            note(`Imported ${r.blocks} blocks (${humanBytes(r.bytes)}) from ${file === '-' ? 'stdin' : file}`)
          }
        }
      })
    })
}

interface AddFlags {
  recursive?: boolean
  hidden?: boolean
  cidVersion?: number
  rawLeaves?: boolean
  chunker?: string
  onlyHash?: boolean
  wrapWithDirectory?: boolean
  quiet?: boolean
  quieter?: boolean
  pin: boolean
  progress?: boolean
}

function withFetchFlags(cmd: Command): Command {
  return cmd
    .option('--peer <multiaddr>', 'fetch missing blocks from this peer over bitswap (repeatable)', collect)
    .option(
      '--timeout <ms>',
      'give up on a missing block after this many milliseconds',
      intFlag('--timeout', 1),
    )
    .option('--verify', 're-hash every block read and refuse corrupt ones (default: config hash_on_read)')
    .option('--no-verify', 'do not re-hash blocks on read, whatever hash_on_read says')
}

/**
 * Runs `fn` with a signal that Ctrl-C (SIGINT) or SIGTERM aborts, so a long read stops between
 * blocks and cleans up after itself; the CLI then exits 130, as a shell expects.
 */
async function onInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController()
  const stop = () => controller.abort(new InterruptedError())
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    return await fn(controller.signal)
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason
    throw err
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
}

async function withReader(
  cmd: Command,
  flags: FetchFlags,
  fn: (store: import('../../content/blocks.ts').BlockSource) => Promise<void>,
): Promise<void> {
  const { openReader } = await import('../../content/reader.ts')
  await withRepo(cmd, async (repo) => {
    if (flags.verify != null) repo.blocks.hashOnRead = flags.verify
    const reader = await openReader(repo, {
      peers: flags.peer ?? repo.config.node.peers,
      timeoutMs: flags.timeout,
    })
    try {
      await fn(reader.store)
    } finally {
      await reader.close()
    }
  })
}

function openCar(file: string): AsyncIterable<Uint8Array> {
  try {
    if (!statSync(file).isFile()) throw new PathError(`${file} is not a file`)
  } catch (err) {
    if (err instanceof PathError) throw err
    throw new PathError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
  return createReadStream(file)
}

function parseBool(value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true
  if (value === 'false') return false
  throw new InvalidInputError(`expected true or false, got "${value}"`)
}
