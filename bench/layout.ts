// Blockstore layouts, in process: the same file through the same importer (Kubo's options for
// --cid-version 1) into our PackStore and into blockstore-fs, the "one file per block" classic.
import { createReadStream, rmSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { importer, type WritableStorage } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { PackStore } from '../src/blockstore/pack-store.ts'
import { kuboImporterOptions } from '../src/content/cid-options.ts'
import { type Contender, compare, mibps, rawTimes, settleDisk, table } from './lib.ts'

interface Imported {
  root: CID
  blocks: number
}

/** Imports `file` as `ipfs add --cid-version 1` does (same options, same 4 MiB reads as src/content/add.ts). */
async function importFile(file: string, store: WritableStorage): Promise<Imported> {
  let blocks = 0
  const counting: WritableStorage = {
    put: (cid, bytes, options) => {
      blocks++
      return store.put(cid, bytes, options)
    },
  }
  let root: CID | undefined
  const content = createReadStream(file, { highWaterMark: 4 << 20 })
  for await (const entry of importer(
    [{ path: 'f', content }],
    counting,
    kuboImporterOptions({ cidVersion: 1 }),
  ))
    root = entry.cid
  return { root: root!, blocks }
}

/** fsync a file or directory by path (a read-only descriptor is enough on Linux). */
async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export async function layoutBench(dir: string, file: string, bytes: number, runs: number): Promise<string> {
  const target = join(dir, 'layout')
  const fresh = () => {
    rmSync(target, { recursive: true, force: true })
    settleDisk()
  }
  const since = (t: number) => (performance.now() - t) / 1000
  let last: Imported | undefined
  let shardDirs = 0

  const contenders: (Contender & { durable: string })[] = [
    {
      name: 'no store: importer only (chunk, hash, build the DAG), blocks dropped',
      durable: 'nothing stored',
      setup: settleDisk,
      run: async () => {
        const t = performance.now()
        last = await importFile(file, { put: async (cid) => cid })
        return since(t)
      },
    },
    {
      name: 'PackStore (ours): `store.writer()`, put every block, `commit()`',
      durable:
        'yes: one fdatasync of the pack, then the index rows in one SQLite transaction (synchronous=FULL)',
      setup: fresh,
      run: async () => {
        const t = performance.now()
        const store = PackStore.open(target)
        const writer = store.writer()
        try {
          last = await importFile(file, writer)
          await writer.commit()
        } finally {
          writer.close()
          await store.close()
        }
        return since(t)
      },
    },
    {
      name: 'blockstore-fs `FsBlockstore`: one file per block (temp file + rename)',
      durable: 'no: nothing is fsynced',
      setup: fresh,
      run: async () => {
        const t = performance.now()
        const store = new FsBlockstore(target)
        await store.open()
        last = await importFile(file, store)
        await store.close()
        return since(t)
      },
    },
    {
      name: 'blockstore-fs + fsync: each block file fsynced after its `put`, then every shard directory and the root once',
      durable: 'yes: as Kubo flatfs with `"sync": true` (file fsync per block, directory fsyncs)',
      setup: fresh,
      run: async () => {
        const t = performance.now()
        const sharding = new NextToLast()
        const store = new FsBlockstore(target, { shardingStrategy: sharding })
        await store.open()
        const dirs = new Set<string>()
        last = await importFile(file, {
          put: async (cid, block) => {
            await store.put(cid, block)
            const { dir: shard, file: name } = sharding.encode(cid)
            await fsyncPath(join(target, shard, name))
            dirs.add(shard)
            return cid
          },
        })
        await Promise.all([...dirs].map((d) => fsyncPath(join(target, d))))
        await fsyncPath(target)
        await store.close()
        shardDirs = dirs.size
        return since(t)
      },
    },
  ]
  const stats = await compare('layout', contenders, runs)
  rmSync(target, { recursive: true, force: true })
  const pack = stats[1]!.median
  return [
    `### Blockstore layout: in process, ${runs} runs after 1 warm-up, interleaved`,
    '',
    `Same importer and options for every store (\`kuboImporterOptions({ cidVersion: 1 })\`: 256 KiB raw leaves, ` +
      `${last?.blocks ?? '?'} blocks, root \`${last?.root}\`), the file read in 4 MiB chunks; ` +
      'timed from opening the store to the last block durable (or written, where nothing is synced) and the store closed.',
    '',
    table(
      ['store', 'median', 'min', 'MiB/s (median)', 'time / PackStore time', 'durable when done'],
      contenders.map((c, i) => {
        const s = stats[i]!
        return [
          c.name,
          `${s.median.toFixed(3)} s`,
          `${s.min.toFixed(3)} s`,
          mibps(bytes, s.median),
          (s.median / pack).toFixed(2),
          c.durable,
        ]
      }),
    ),
    '',
    `- blockstore-fs spreads the blocks over ${shardDirs} shard directories (NextToLast, 2 characters, as Kubo's flatfs); ` +
      'the fsyncs run on the libuv thread pool, up to 16 at once (the importer writes 16 blocks concurrently).',
    '',
    ...rawTimes(contenders, stats),
  ].join('\n')
}
