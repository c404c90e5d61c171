// Read-path benchmarks (issue: the read path): `ipfs cat` into /dev/null and into a pipe, `ipfs get`
// of a large file and of a tree of small files, `ls` of a HAMT directory, `stat` of a tree, `cat`/`add`
// of a small file, each side by side with Kubo; then peak RSS of get,
// cat into a stalled pipe and dag export of a large file. See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeRandom } from './content.ts'
import { type Contender, compare, mibps, rawTimes, type Stats, settleDisk, table, timeArgv } from './lib.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'ipfs-kit.js')
/** The command as npm installs it (a shell script that runs BIN with the node on PATH): the timed rows run it. */
const COMMAND = join(ROOT, 'bin', 'ipfs-kit')
const KUBO = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')
const MiB = 2 ** 20

/** Wall time of a shell pipeline (for `| cat` rows); throws if any part fails. */
function timeShell(script: string, env: NodeJS.ProcessEnv = {}): number {
  const started = process.hrtime.bigint()
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const s = Number(process.hrtime.bigint() - started) / 1e9
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr.toString().slice(-500)}`)
  return s
}

/** Peak RSS (GNU time's %M) of the first command of a pipeline, in MiB. */
function peakRss(dir: string, command: string, rest: string, env: NodeJS.ProcessEnv = {}): number {
  const out = join(dir, 'peak-rss.txt')
  timeShell(`/usr/bin/time -f %M -o ${out} ${command} ${rest}`, env)
  const kb = Number(readFileSync(out, 'utf8').trim().split('\n').at(-1))
  rmSync(out, { force: true })
  return kb / 1024
}

interface Row extends Contender {
  /** Kubo's row for the same command: ratio = Kubo time / this time. */
  kubo?: string
  goal?: number
}

/** `count` small files (a line each) in subdirectories of `perDir`, or all in `root` when one suffices. */
function writeTree(root: string, count: number, perDir: number): void {
  mkdirSync(root, { recursive: true })
  for (let i = 0; i < count; i++) {
    const sub = count <= perDir ? root : join(root, `d${Math.floor(i / perDir)}`)
    if (i % perDir === 0) mkdirSync(sub, { recursive: true })
    writeFileSync(join(sub, `f${String(i).padStart(6, '0')}.txt`), `file ${i}\n`)
  }
}

export async function readBench(
  dir: string,
  sizeMb: number,
  getMb: number,
  memMb: number,
  runs: number,
  treeFiles = 20_000,
  flatEntries = 10_000,
): Promise<string> {
  const haveKubo = existsSync(KUBO)
  const kitHome = join(dir, 'read-kit')
  const kuboRepo = join(dir, 'read-kubo')
  // bin/ipfs-kit runs the `node` on PATH: make it the one running the bench
  const kitEnv = { IPFS_KIT_HOME: kitHome, PATH: `${dirname(process.execPath)}:${process.env.PATH}` }
  const kuboEnv = { IPFS_PATH: kuboRepo }
  const addKit = (file: string, extra: string[] = []) =>
    execFileSync(process.execPath, [BIN, 'ipfs', 'add', '-Q', '--cid-version', '1', ...extra, file], {
      env: { ...process.env, ...kitEnv },
    })
      .toString()
      .trim()
  const addKubo = (file: string, extra: string[] = []) =>
    execFileSync(KUBO, ['add', '-Q', '--offline', '--cid-version', '1', ...extra, file], {
      env: { ...process.env, ...kuboEnv },
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim()
  if (haveKubo) {
    rmSync(kuboRepo, { recursive: true, force: true })
    execFileSync(KUBO, ['init', '--profile', 'test'], {
      env: { ...process.env, ...kuboEnv },
      stdio: 'ignore',
    })
  }

  const file = join(dir, 'read.bin')
  const big = join(dir, 'get.bin')
  const small = join(dir, 'small.txt')
  writeRandom(file, sizeMb * MiB, 'read-bench')
  writeRandom(big, getMb * MiB, 'get-bench')
  writeRandom(small, 6, 'small')
  const cid = addKit(file)
  const bigCid = addKit(big)
  const smallCid = addKit(small)
  if (haveKubo)
    for (const [f, c] of [
      [file, cid],
      [big, bigCid],
      [small, smallCid],
    ] as const) {
      const k = addKubo(f)
      if (k !== c) throw new Error(`CIDs differ for ${f}: ipfs-kit ${c}, Kubo ${k}`)
    }
  // trees: many small files in directories of 1,000, and one flat directory (a HAMT shard)
  const tree = join(dir, 'tree')
  const flat = join(dir, 'flat')
  writeTree(tree, treeFiles, 1000)
  writeTree(flat, flatEntries, flatEntries)
  const treeCid = addKit(tree, ['-r'])
  const flatCid = addKit(flat, ['-r'])
  if (haveKubo)
    for (const [d, c] of [
      [tree, treeCid],
      [flat, flatCid],
    ] as const) {
      const k = addKubo(d, ['-r'])
      if (k !== c) throw new Error(`CIDs differ for ${d}: ipfs-kit ${c}, Kubo ${k}`)
    }
  rmSync(tree, { recursive: true, force: true })
  rmSync(flat, { recursive: true, force: true })
  execFileSync('cat', [file, big], { stdio: 'ignore' })
  settleDisk()

  const kit = (args: string[]) => () => timeArgv([COMMAND, ...args], kitEnv)
  const kubo = (args: string[]) => () => timeArgv([KUBO, ...args], kuboEnv)
  const outPath = join(dir, 'got.out')
  const freshOut = () => {
    rmSync(outPath, { recursive: true, force: true })
    settleDisk()
  }
  const rows: Row[] = [
    {
      name: '`cat FILE | cat > /dev/null` (pipe floor)',
      run: () => timeShell(`cat ${file} | cat > /dev/null`),
    },
    { name: '`node -e 0` (startup floor)', run: () => timeArgv([process.execPath, '-e', '0']) },
    {
      name: `\`ipfs-kit ipfs cat CID > /dev/null\` (${sizeMb} MiB)`,
      kubo: 'kubo-cat',
      goal: 1,
      run: kit(['ipfs', 'cat', cid]),
    },
    {
      name: `\`ipfs-kit ipfs cat CID | cat > /dev/null\` (${sizeMb} MiB)`,
      kubo: 'kubo-cat-pipe',
      run: () => timeShell(`${COMMAND} ipfs cat ${cid} | cat > /dev/null`, kitEnv),
    },
    {
      name: `\`ipfs-kit ipfs cat --verify CID > /dev/null\` (every block re-hashed)`,
      kubo: 'kubo-cat',
      run: kit(['ipfs', 'cat', '--verify', cid]),
    },
    {
      name: `\`ipfs-kit ipfs get CID -o OUT\` (${getMb} MiB)`,
      kubo: 'kubo-get',
      goal: 1,
      setup: freshOut,
      run: kit(['ipfs', 'get', bigCid, '-o', outPath]),
    },
    {
      name: `\`ipfs-kit ipfs get CID -o OUT\` (tree of ${treeFiles} small files)`,
      kubo: 'kubo-get-tree',
      setup: freshOut,
      run: kit(['ipfs', 'get', treeCid, '-o', outPath]),
    },
    {
      name: `\`ipfs-kit ipfs ls CID > /dev/null\` (HAMT directory of ${flatEntries} entries)`,
      kubo: 'kubo-ls-hamt',
      run: kit(['ipfs', 'ls', flatCid]),
    },
    {
      name: `\`ipfs-kit ipfs stat CID\` (tree of ${treeFiles} small files; every block read)`,
      kubo: 'kubo-stat-tree',
      run: kit(['ipfs', 'stat', treeCid]),
    },
    {
      name: '`ipfs-kit ipfs cat CID` (6-byte file)',
      kubo: 'kubo-cat-small',
      goal: 0.5,
      run: kit(['ipfs', 'cat', smallCid]),
    },
    {
      name: '`ipfs-kit ipfs add -Q FILE` (6-byte file, existing data dir)',
      kubo: 'kubo-add-small',
      goal: 0.5,
      run: kit(['ipfs', 'add', '-Q', small]),
    },
  ]
  // Node 20 parses the NODE_EXTRA_CA_CERTS bundle as it starts (Node 22 and later when TLS first
  // needs it). bin/ipfs-kit sets it aside for these commands; where the environment sets it, the
  // rows a start dominates also run as `node bin/ipfs-kit.js`, which parses it, and `node -e 0` both ways
  const extraCa = process.env.NODE_EXTRA_CA_CERTS
  if (extraCa != null && extraCa !== '') {
    const goalRow = (kubo: string) => rows.find((r) => r.kubo === kubo && r.goal != null)!
    const direct = (r: Row, args: string[]): Row => ({
      ...r,
      name: `${r.name.replace('`ipfs-kit ', '`node bin/ipfs-kit.js ')}, NODE_EXTRA_CA_CERTS parsed at start`,
      goal: undefined,
      run: () => timeArgv([process.execPath, BIN, ...args], kitEnv),
    })
    rows.push(
      {
        name: '`node -e 0`, without NODE_EXTRA_CA_CERTS',
        run: () => timeArgv([process.execPath, '-e', '0'], { NODE_EXTRA_CA_CERTS: undefined }),
      },
      direct(goalRow('kubo-cat'), ['ipfs', 'cat', cid]),
      direct(goalRow('kubo-cat-small'), ['ipfs', 'cat', smallCid]),
      direct(goalRow('kubo-add-small'), ['ipfs', 'add', '-Q', small]),
    )
  }
  const kuboRows: Record<string, Row> = {}
  if (haveKubo) {
    kuboRows['kubo-cat'] = {
      name: '`ipfs cat --offline CID > /dev/null` (Kubo)',
      run: kubo(['cat', '--offline', cid]),
    }
    kuboRows['kubo-cat-pipe'] = {
      name: '`ipfs cat --offline CID | cat > /dev/null` (Kubo)',
      run: () => timeShell(`${KUBO} cat --offline ${cid} | cat > /dev/null`, kuboEnv),
    }
    kuboRows['kubo-get'] = {
      name: `\`ipfs get --offline CID -o OUT\` (Kubo, ${getMb} MiB)`,
      setup: freshOut,
      run: kubo(['get', '--offline', bigCid, '-o', outPath]),
    }
    kuboRows['kubo-get-tree'] = {
      name: `\`ipfs get --offline CID -o OUT\` (Kubo, tree of ${treeFiles} small files)`,
      setup: freshOut,
      run: kubo(['get', '--offline', '--progress=false', treeCid, '-o', outPath]),
    }
    kuboRows['kubo-ls-hamt'] = {
      name: `\`ipfs ls --offline CID > /dev/null\` (Kubo, HAMT directory of ${flatEntries} entries)`,
      run: kubo(['ls', '--offline', flatCid]),
    }
    kuboRows['kubo-stat-tree'] = {
      name: `\`ipfs dag stat --offline CID\` (Kubo, tree of ${treeFiles} small files)`,
      run: kubo(['dag', 'stat', '--offline', '--progress=false', treeCid]),
    }
    kuboRows['kubo-cat-small'] = {
      name: '`ipfs cat --offline CID` (Kubo, 6-byte file)',
      run: kubo(['cat', '--offline', smallCid]),
    }
    kuboRows['kubo-add-small'] = {
      name: '`ipfs add -Q --offline FILE` (Kubo, 6-byte file)',
      run: kubo(['add', '-Q', '--offline', small]),
    }
    rows.push(...Object.values(kuboRows))
  }
  const stats = await compare('read', rows, runs)
  const statOf = (r: Row): Stats => stats[rows.indexOf(r)]!
  const ratio = (r: Row) => {
    const k = r.kubo == null ? undefined : kuboRows[r.kubo]
    return k == null ? undefined : statOf(k).median / statOf(r).median
  }
  const goalCell = (r: Row) => {
    const q = ratio(r)
    if (r.goal == null || q == null) return ''
    return `>= ${r.goal}: ${q >= r.goal ? 'met' : '**not met**'}`
  }

  // memory: a large file through get, cat into a pipe that stalls, and dag export
  const mem = join(dir, 'mem.bin')
  writeRandom(mem, memMb * MiB, 'mem-bench')
  const memCid = addKit(mem)
  rmSync(mem, { force: true })
  freshOut()
  const memRows: [string, number][] = [
    [
      `\`ipfs-kit ipfs get CID -o OUT\` (${memMb} MiB)`,
      peakRss(dir, `${COMMAND} ipfs get ${memCid} -o ${outPath}`, '', kitEnv),
    ],
    [
      `\`ipfs-kit ipfs cat CID | (sleep 5; cat > /dev/null)\` (${memMb} MiB, stalled reader)`,
      peakRss(dir, `${COMMAND} ipfs cat ${memCid}`, '| (sleep 5; cat > /dev/null)', kitEnv),
    ],
    [
      `\`ipfs-kit ipfs dag export CID | (sleep 5; cat > /dev/null)\` (${memMb} MiB)`,
      peakRss(dir, `${COMMAND} ipfs dag export ${memCid}`, '| (sleep 5; cat > /dev/null)', kitEnv),
    ],
  ]
  rmSync(outPath, { recursive: true, force: true })

  return [
    `### Read path: ${sizeMb} MiB cat, ${getMb} MiB get, ${runs} runs after 1 warm-up, interleaved; wall time`,
    '',
    'ratio = Kubo time / this time (above 1: faster than Kubo). Same files, same CIDs, both offline.',
    '',
    table(
      ['command', 'median', 'min', 'MiB/s (median)', 'ratio vs Kubo', 'goal'],
      rows.map((r) => {
        const s = statOf(r)
        const q = ratio(r)
        const size = r.name.includes(`${getMb} MiB`) ? getMb : r.name.includes(`${sizeMb} MiB`) ? sizeMb : 0
        return [
          r.name,
          `${s.median.toFixed(3)} s`,
          `${s.min.toFixed(3)} s`,
          size > 0 ? mibps(size * MiB, s.median) : '',
          q == null ? '' : q.toFixed(2),
          goalCell(r),
        ]
      }),
    ),
    '',
    `Goal for the 6-byte rows: at most 2x Kubo's time, i.e. ratio >= 0.5. ${haveKubo ? '' : `Kubo is not built (${KUBO}): no ratios.`}`,
    '',
    `### Peak RSS on a ${memMb} MiB file (GNU time %M; goal <= 256 MiB each)`,
    '',
    table(
      ['command', 'peak RSS', 'goal'],
      memRows.map(([name, mib]) => [name, `${mib.toFixed(0)} MiB`, mib <= 256 ? 'met' : '**not met**']),
    ),
    '',
    ...rawTimes(rows, stats),
  ].join('\n')
}
