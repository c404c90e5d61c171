// Content benchmarks: `ipfs-kit ipfs add` / `ipfs cat` against sha256sum, openssl, cat, `node -e 0` and
// Kubo, then the blockstore layouts in process (layout.ts). See bench/README.md for what each row means.
import { execFileSync } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { layoutBench } from './layout.ts'
import { type Contender, compare, mibps, rawTimes, type Stats, settleDisk, table, timeArgv } from './lib.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(ROOT, 'bin', 'ipfs-kit.js')
const KUBO = process.env.IPFS_KIT_KUBO_BIN ?? join(homedir(), '.cache', 'ipfs-kit', 'bin', 'ipfs')

/** Writes `bytes` of incompressible pseudo-random data (AES-256-CTR keystream of a seed): same file every run. */
export function writeRandom(path: string, bytes: number, seed = 'ipfs-kit-bench'): void {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(4 << 20)
  const fd = openSync(path, 'w')
  try {
    for (let left = bytes; left > 0; left -= zeros.length) {
      const chunk = cipher.update(zeros.subarray(0, Math.min(left, zeros.length)))
      writeSync(fd, chunk)
    }
  } finally {
    closeSync(fd)
  }
}

type Baseline = 'sha256sum' | 'cat'

interface Row extends Contender {
  /** This row is that baseline. */
  is?: Baseline
  /** The baseline the issue names for this command: ratio = baseline time / this time. */
  vs?: Baseline
  /** The goal for that ratio, where the issue sets one. */
  goal?: number
}

/** Issue: add, only-hash and cat against sha256sum, openssl and cat; Kubo where built. */
export async function contentBench(dir: string, sizeMb: number, runs: number): Promise<string> {
  const bytes = Math.round(sizeMb * 2 ** 20)
  const file = join(dir, 'random.bin')
  writeRandom(file, bytes)
  execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }) // in the page cache for every contender
  settleDisk()

  const kitEnv = (home: string) => ({ IPFS_KIT_HOME: home })
  const kit = (args: string[], home: string) => () => timeArgv([process.execPath, BIN, ...args], kitEnv(home))
  const fresh = (home: string) => () => {
    rmSync(home, { recursive: true, force: true })
    settleDisk()
  }
  const quiet = () => settleDisk()

  // the stored file that `cat` reads, and the CIDs every add must agree on
  const store = join(dir, 'kit-store')
  const kitCid = (args: string[]) =>
    execFileSync(process.execPath, [BIN, 'ipfs', 'add', '-Q', ...args, file], {
      env: { ...process.env, ...kitEnv(store) },
    })
      .toString()
      .trim()
  const cids: Record<string, string> = {
    'ipfs-kit v0': kitCid([]),
    'ipfs-kit v1': kitCid(['--cid-version', '1']),
    'ipfs-kit -n v0': kitCid(['-n']),
  }

  const rows: Row[] = [
    {
      name: '`sha256sum FILE`',
      is: 'sha256sum',
      vs: 'sha256sum',
      run: () => timeArgv(['sha256sum', file]),
      setup: quiet,
    },
    {
      name: '`openssl dgst -sha256 FILE`',
      vs: 'sha256sum',
      run: () => timeArgv(['openssl', 'dgst', '-sha256', file]),
      setup: quiet,
    },
    {
      name: '`cat FILE > /dev/null`',
      is: 'cat',
      vs: 'cat',
      run: () => timeArgv(['cat', file]),
      setup: quiet,
    },
    { name: '`node -e 0` (startup floor)', run: () => timeArgv([process.execPath, '-e', '0']), setup: quiet },
    {
      name: '`ipfs-kit ipfs add -Q FILE` (v0, fresh data dir)',
      vs: 'sha256sum',
      setup: fresh(join(dir, 'kit-add-v0')),
      run: kit(['ipfs', 'add', '-Q', file], join(dir, 'kit-add-v0')),
    },
    {
      name: '`ipfs-kit ipfs add -Q --cid-version 1 FILE` (fresh data dir)',
      vs: 'sha256sum',
      goal: 1,
      setup: fresh(join(dir, 'kit-add-v1')),
      run: kit(['ipfs', 'add', '-Q', '--cid-version', '1', file], join(dir, 'kit-add-v1')),
    },
    {
      name: '`ipfs-kit ipfs add -Q -n FILE` (only hash, v0)',
      vs: 'sha256sum',
      setup: quiet,
      run: kit(['ipfs', 'add', '-Q', '-n', file], join(dir, 'kit-unused')),
    },
    {
      name: '`ipfs-kit ipfs add -Q -n --cid-version 1 FILE` (only hash, v1)',
      vs: 'sha256sum',
      setup: quiet,
      run: kit(['ipfs', 'add', '-Q', '-n', '--cid-version', '1', file], join(dir, 'kit-unused')),
    },
    {
      name: '`ipfs-kit ipfs cat CID > /dev/null` (the v1 CID)',
      vs: 'cat',
      goal: 0.5,
      setup: quiet,
      run: kit(['ipfs', 'cat', cids['ipfs-kit v1']!], store),
    },
  ]

  let kuboNote = `Kubo is not built (no ${KUBO}; scripts/install-kubo.sh builds it): the Kubo rows are skipped.`
  if (existsSync(KUBO)) {
    const kuboEnv = (repo: string) => ({ IPFS_PATH: repo })
    const init = (repo: string, flatfsSync = false) => {
      rmSync(repo, { recursive: true, force: true })
      execFileSync(KUBO, ['init', '--profile', 'test'], {
        env: { ...process.env, ...kuboEnv(repo) },
        stdio: 'ignore',
      })
      if (flatfsSync) setFlatfsSync(repo)
      settleDisk()
    }
    const kubo = (args: string[], repo: string) => () => timeArgv([KUBO, ...args], kuboEnv(repo))
    const kuboStore = join(dir, 'kubo-store')
    init(kuboStore)
    const kuboCid = (args: string[]) =>
      execFileSync(KUBO, ['add', '-Q', '--offline', ...args, file], {
        env: { ...process.env, ...kuboEnv(kuboStore) },
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim()
    cids['Kubo v0'] = kuboCid([])
    cids['Kubo v1'] = kuboCid(['--cid-version', '1'])
    const v0 = join(dir, 'kubo-add-v0')
    const v1 = join(dir, 'kubo-add-v1')
    const v1sync = join(dir, 'kubo-add-v1-sync')
    rows.push(
      {
        name: '`ipfs add -Q --offline FILE` (Kubo, v0, fresh `init --profile test` repo)',
        vs: 'sha256sum',
        setup: () => init(v0),
        run: kubo(['add', '-Q', '--offline', file], v0),
      },
      {
        name: '`ipfs add -Q --offline --cid-version 1 FILE` (Kubo, fresh repo)',
        vs: 'sha256sum',
        setup: () => init(v1),
        run: kubo(['add', '-Q', '--offline', '--cid-version', '1', file], v1),
      },
      {
        name: '`ipfs add -Q --offline --cid-version 1 FILE` (Kubo, fresh repo, flatfs `"sync": true`)',
        vs: 'sha256sum',
        setup: () => init(v1sync, true),
        run: kubo(['add', '-Q', '--offline', '--cid-version', '1', file], v1sync),
      },
      {
        name: '`ipfs cat --offline CID > /dev/null` (Kubo, the v1 CID)',
        vs: 'cat',
        setup: quiet,
        run: kubo(['cat', '--offline', cids['Kubo v1']!], kuboStore),
      },
    )
    kuboNote = `Kubo: \`${KUBO}\`, ${execFileSync(KUBO, ['version']).toString().trim()}; offline commands only, no daemon.`
  }

  const stats = await compare('content', rows, runs)
  const byName = new Map(rows.map((r, i) => [r, stats[i]!]))
  const baseStats = (b: Baseline) => stats[rows.findIndex((r) => r.is === b)]!
  const base = (b: Baseline) => baseStats(b).median
  const ratio = (r: Row, s: Stats) => (r.vs == null ? undefined : base(r.vs) / s.median)
  const goalCell = (r: Row, s: Stats) =>
    r.goal == null ? '' : `>= ${r.goal.toFixed(1)}: ${ratio(r, s)! >= r.goal ? 'met' : '**not met**'}`
  const out = [
    `### Content: ${sizeMb} MiB random file, ${runs} runs after 1 warm-up, interleaved; wall time`,
    '',
    'ratio = baseline time / this time (the baseline the issue names: `sha256sum` for hashing and adding, `cat` for reading); above 1 is faster than the baseline.',
    '',
    table(
      ['command', 'median', 'min', 'MiB/s (median)', 'ratio', 'goal'],
      rows.map((r) => {
        const s = byName.get(r)!
        const q = ratio(r, s)
        return [
          r.name,
          fmt3(s.median),
          fmt3(s.min),
          mibps(bytes, s.median),
          q == null ? '' : `${q.toFixed(2)} vs ${r.vs}`,
          goalCell(r, s),
        ]
      }),
    ),
    '',
    ...rows
      .filter((r) => r.goal != null)
      .map((r) => {
        const s = byName.get(r)!
        const onMin = baseStats(r.vs!).min / s.min
        return (
          `- Goal: ${r.name}: ${r.vs} ${fmt3(base(r.vs!))} / ${fmt3(s.median)} = **${ratio(r, s)!.toFixed(2)}** ` +
          `(goal >= ${r.goal!.toFixed(1)}): ${goalCell(r, s).split(': ')[1]}; on the minimum times ${onMin.toFixed(2)}`
        )
      }),
    `- CIDs: ${Object.entries(cids)
      .map(([k, v]) => `${k} \`${v}\``)
      .join(', ')}; ${agree(cids) ? 'ipfs-kit and Kubo agree' : '**ipfs-kit and Kubo DISAGREE**'}.`,
    `- ${kuboNote}`,
    '- Durability: every `ipfs-kit ipfs add` fdatasyncs its pack file and commits the index with `synchronous = FULL` before it exits. ' +
      'Kubo\'s flatfs has `"sync": false` in both the `test` and the default profile, so its block files are not fsynced; the `"sync": true` row is Kubo made as durable.',
    `- ipfs-kit build: ${distNote()}`,
  ]
  const layout = await layoutBench(dir, file, bytes, runs)
  return [...out, '', ...rawTimes(rows, stats), '', layout].join('\n')
}

const fmt3 = (s: number) => `${s.toFixed(3)} s`

function agree(cids: Record<string, string>): boolean {
  const same = (a: string, b: string) => cids[a] == null || cids[b] == null || cids[a] === cids[b]
  return (
    same('ipfs-kit v0', 'ipfs-kit -n v0') && same('ipfs-kit v0', 'Kubo v0') && same('ipfs-kit v1', 'Kubo v1')
  )
}

/** Kubo's flatfs with `"sync": true`: every block file (and its directory) fsynced as it is written. */
function setFlatfsSync(repo: string): void {
  const path = join(repo, 'config')
  const config = JSON.parse(readFileSync(path, 'utf8')) as {
    Datastore: { Spec: { mounts: { type: string; sync?: boolean }[] } }
  }
  for (const m of config.Datastore.Spec.mounts) if (m.type === 'flatfs') m.sync = true
  writeFileSync(path, JSON.stringify(config, null, 2))
}

/** Warns when dist/ (what bin/ipfs-kit.js runs) is older than a file in src/. */
function distNote(): string {
  const main = join(ROOT, 'dist', 'bin', 'main.js')
  if (!existsSync(main)) throw new Error('dist/ is missing: run `npm run build` first')
  const built = statSync(main).mtimeMs
  const newest = (d: string): number =>
    readdirSync(d, { withFileTypes: true }).reduce(
      (m, e) => Math.max(m, e.isDirectory() ? newest(join(d, e.name)) : statSync(join(d, e.name)).mtimeMs),
      0,
    )
  return newest(join(ROOT, 'src')) > built
    ? '**dist/ is older than src/**: the CLI rows measure a stale build (`npm run build`)'
    : 'dist/ is newer than every file in src/'
}
