import { execFileSync } from 'node:child_process'
import { existsSync, fsyncSync, mkdirSync, openSync, closeSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { importer } from 'ipfs-unixfs-importer'
import type { CID } from 'multiformats/cid'
import { writeRandomFile } from '../test/helpers/fixtures.ts'
import { PackStore } from '../src/blockstore/pack-store.ts'
import { kuboImporterOptions } from '../src/content/cid-options.ts'
import { createReadStream } from 'node:fs'
import { fmt, mbps, sample, sampleAsync, table, timeCommand } from './lib.ts'

const BIN = new URL('../bin/ipfs-kit.js', import.meta.url).pathname
const KUBO = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')

/** Issue 2: add, only-hash and cat against sha256sum, openssl and cat, and Kubo where built. */
export async function contentBench(dir: string, sizeMb: number, runs: number): Promise<string> {
  const file = join(dir, 'random.bin')
  const bytes = sizeMb * 2 ** 20
  writeRandomFile(file, bytes, 'bench')
  timeCommand(`cat ${file} > /dev/null`) // page cache warm, as for every contender
  const home = join(dir, 'kit')
  const fresh = () => rmSync(home, { recursive: true, force: true })
  const kit = (args: string) => () => timeCommand(`node ${BIN} ${args}`, { IPFS_KIT_HOME: home })
  const rows: [string, ReturnType<typeof sample>][] = []
  const sha = sample(runs, () => timeCommand(`sha256sum ${file}`))
  const cat = sample(runs, () => timeCommand(`cat ${file} > /dev/null`))
  rows.push(['sha256sum', sha])
  rows.push(['openssl dgst -sha256', sample(runs, () => timeCommand(`openssl dgst -sha256 ${file}`))])
  rows.push(['cat > /dev/null', cat])
  rows.push(['node -e 0 (startup floor)', sample(runs, () => timeCommand('node -e 0'))])
  const addV0 = sample(runs, kit(`ipfs add -Q ${file}`), fresh)
  const addV1 = sample(runs, kit(`ipfs add -Q --cid-version 1 ${file}`), fresh)
  rows.push(['ipfs-kit ipfs add (v0, durable)', addV0])
  rows.push(['ipfs-kit ipfs add --cid-version 1 (durable)', addV1])
  rows.push(['ipfs-kit ipfs add -n (only hash)', sample(runs, kit(`ipfs add -Q -n --cid-version 1 ${file}`))])
  const cid = execFileSync('node', [BIN, 'ipfs', 'add', '-Q', '--cid-version', '1', file], { env: { ...process.env, IPFS_KIT_HOME: home } })
    .toString()
    .trim()
  const kitCat = sample(runs, kit(`ipfs cat ${cid} > /dev/null`))
  rows.push(['ipfs-kit ipfs cat > /dev/null', kitCat])
  let kuboNote = `Kubo not built at ${KUBO} (scripts/install-kubo.sh): Kubo rows skipped`
  if (existsSync(KUBO)) {
    const repo = join(dir, 'kubo')
    const kuboFresh = () => {
      rmSync(repo, { recursive: true, force: true })
      execFileSync(KUBO, ['init', '--profile', 'test', '-e'], { env: { ...process.env, IPFS_PATH: repo }, stdio: 'ignore' })
    }
    const kubo = (args: string) => () => timeCommand(`${KUBO} ${args}`, { IPFS_PATH: repo })
    rows.push(['kubo ipfs add --offline (v0)', sample(runs, kubo(`add -Q --offline ${file}`), kuboFresh)])
    rows.push(['kubo ipfs add --offline --cid-version 1', sample(runs, kubo(`add -Q --offline --cid-version 1 ${file}`), kuboFresh)])
    kuboFresh()
    const kcid = execFileSync(KUBO, ['add', '-Q', '--offline', '--cid-version', '1', file], { env: { ...process.env, IPFS_PATH: repo } })
      .toString()
      .trim()
    rows.push(['kubo ipfs cat --offline > /dev/null', sample(runs, kubo(`cat --offline ${kcid} > /dev/null`))])
    kuboNote = `Kubo: ${execFileSync(KUBO, ['version']).toString().trim()}`
  }
  const layout = await layoutBench(dir, file, bytes, Math.max(1, Math.min(runs, 3)))
  return [
    `### Content (${sizeMb} MiB random file, ${runs} runs, median)`,
    '',
    table(
      ['command', 'median', 'min', 'throughput'],
      rows.map(([name, s]) => [name, fmt(s.median), fmt(s.min), mbps(bytes, s.median)]),
    ),
    '',
    `- add --cid-version 1 vs sha256sum: ratio ${(sha.median / addV1.median).toFixed(2)} (goal >= 1.0)`,
    `- add (v0) vs sha256sum: ratio ${(sha.median / addV0.median).toFixed(2)}`,
    `- cat vs cat: ratio ${(cat.median / kitCat.median).toFixed(2)} (goal >= 0.5)`,
    `- ${kuboNote}`,
    '',
    layout,
  ].join('\n')
}

/** One file per block (blockstore-fs) against our pack files, in process, same importer and options. */
async function layoutBench(dir: string, file: string, bytes: number, runs: number): Promise<string> {
  const options = kuboImporterOptions({ cidVersion: 1 })
  const target = join(dir, 'layout')
  const clean = () => {
    rmSync(target, { recursive: true, force: true })
    mkdirSync(target, { recursive: true })
  }
  const importInto = async (store: { put(cid: CID, bytes: Uint8Array): Promise<CID> }) => {
    const started = performance.now()
    for await (const _ of importer([{ path: 'f', content: createReadStream(file, { highWaterMark: 1 << 20 }) }], store, options)) {
    }
    return started
  }
  const pack = await sampleAsync(
    runs,
    async () => {
      const store = PackStore.open(target)
      const writer = store.writer()
      const started = await importInto(writer)
      await writer.commit()
      writer.close()
      const s = (performance.now() - started) / 1000
      await store.close()
      return s
    },
    clean,
  )
  const fsNoSync = await sampleAsync(
    runs,
    async () => {
      const store = new FsBlockstore(target)
      await store.open()
      const started = await importInto({ put: (cid, b) => store.put(cid, b) })
      const s = (performance.now() - started) / 1000
      await store.close()
      return s
    },
    clean,
  )
  // blockstore-fs never fsyncs; to be as durable as the pack store, fsync each block file after writing it
  const fsSync = await sampleAsync(
    runs,
    async () => {
      const store = new FsBlockstore(target)
      await store.open()
      const started = await importInto({
        put: async (cid, b) => {
          await store.put(cid, b)
          const path = join(target, ...pathOf(store, cid))
          const fd = openSync(path, 'r')
          fsyncSync(fd)
          closeSync(fd)
          return cid
        },
      })
      const s = (performance.now() - started) / 1000
      await store.close()
      return s
    },
    clean,
  )
  return [
    '#### Blockstore layout (in process, same importer, --cid-version 1)',
    '',
    table(
      ['layout', 'median', 'throughput'],
      [
        ['pack files + SQLite index, fdatasync once per add (ours)', fmt(pack.median), mbps(bytes, pack.median)],
        ['one file per block (blockstore-fs), no fsync', fmt(fsNoSync.median), mbps(bytes, fsNoSync.median)],
        ['one file per block (blockstore-fs) + fsync per block', fmt(fsSync.median), mbps(bytes, fsSync.median)],
      ],
    ),
  ].join('\n')
}

/** blockstore-fs's path for a block: its NextToLast sharding of the base32 multihash key. */
function pathOf(store: FsBlockstore, cid: CID): string[] {
  const { dir, file } = (store as unknown as { shardingStrategy: { encode(c: CID): { dir: string; file: string } } }).shardingStrategy.encode(cid)
  return [dir, file]
}
