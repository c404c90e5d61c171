import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import { IpfsKitError } from '../../errors.ts'
import { globals } from '../context.ts'
import { out, outJson } from '../output.ts'

interface Step {
  name: string
  ok: boolean
  ms: number
  detail: string
}

/** `ipfs-kit demo`: the architecture demo, end to end in a temporary data directory. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a daemon in a temporary directory, exercise every part, print a checklist, clean up')
    .option('--keep', 'keep the temporary directory for inspection')
    .action(async (flags: { keep?: boolean }, cmd: Command) => {
      const steps = await runDemo(flags.keep === true)
      if (globals(cmd).json) outJson({ ok: steps.every((s) => s.ok), steps })
      else {
        for (const s of steps)
          out(`${s.ok ? '✓' : '✗'} ${s.name.padEnd(44)} ${String(s.ms).padStart(6)} ms  ${s.detail}`)
      }
      const failed = steps.filter((s) => !s.ok).length
      if (failed > 0) throw new IpfsKitError('ERR_DEMO', `${failed} of ${steps.length} demo steps failed`)
    })
}

async function runDemo(keep: boolean): Promise<Step[]> {
  const [{ DaemonClient }, { RouteReader }, { Repo }, { add }, { cat }, { loadConfig }] = await Promise.all([
    import('../../client/daemon-client.ts'),
    import('../../client/route-reader.ts'),
    import('../../repo.ts'),
    import('../../content/add.ts'),
    import('../../content/export.ts'),
    import('../../config/config.ts'),
  ])
  const root = mkdtempSync(join(tmpdir(), 'ipfs-kit-demo-'))
  const home = join(root, 'data')
  const nasA = join(root, 'nas-a')
  const nasB = join(root, 'nas-b')
  for (const d of [home, nasA, nasB]) mkdirSync(d, { recursive: true })
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({
      port: 0,
      node: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      backends: [
        { name: 'nas-a', type: 'filesystem', path: nasA },
        { name: 'nas-b', type: 'filesystem', path: nasB },
      ],
      replication: { min_replicas: 2, max_replicas: 2, preferred: ['nas-a'] },
    }),
  )
  const steps: Step[] = []
  let failedAt: string | undefined
  /** Runs a step unless one before it failed; `always` runs it anyway (the cleanup). */
  const step = async (name: string, fn: () => Promise<string>, always = false) => {
    if (failedAt != null && !always) {
      steps.push({ name, ok: false, ms: 0, detail: `skipped: "${failedAt}" failed` })
      return
    }
    const started = performance.now()
    try {
      const detail = await fn()
      steps.push({ name, ok: true, ms: Math.round(performance.now() - started), detail })
    } catch (err) {
      failedAt = name
      steps.push({
        name,
        ok: false,
        ms: Math.round(performance.now() - started),
        detail: (err as Error).message,
      })
    }
  }
  const daemon = spawn(
    process.execPath,
    [process.argv[1]!, '--data-dir', home, 'daemon', 'start', '--foreground'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  )
  let daemonErr = ''
  daemon.stderr.on('data', (d: Buffer) => {
    daemonErr += d.toString()
  })
  const client = () => new DaemonClient({ dataDir: home })
  const content = randomBytes(3 * 1024 * 1024)
  let cid = ''
  try {
    await step('start the daemon', async () => {
      const deadline = Date.now() + 30_000
      while (!existsSync(join(home, 'api'))) {
        if (daemon.exitCode != null) throw new Error(`daemon exited: ${daemonErr.trim()}`)
        if (Date.now() > deadline) throw new Error('no api file after 30 s')
        await new Promise((r) => setTimeout(r, 50))
      }
      const h = await client().health()
      return `${readFileSync(join(home, 'api'), 'utf8').trim()} (${h.status})`
    })
    await step('add 3 MiB of content (library, no daemon hop)', async () => {
      const file = join(root, 'demo.bin')
      writeFileSync(file, content)
      const repo = Repo.open(home, loadConfig(home))
      try {
        const [entry] = await add(repo, { paths: [file] }, { cidVersion: 1, pin: false })
        cid = entry!.cid.toString()
      } finally {
        await repo.close()
      }
      return cid
    })
    await step('pin it through the daemon (policy: 2 replicas)', async () => {
      const r = await client().pin(cid, { name: 'demo', policy: { min_replicas: 2, max_replicas: 2 } })
      return `status ${String(r.status)}`
    })
    await step('replicate to 2 verified copies', async () => {
      await client().sync({ wait: true })
      const verified = ((await client().getPin(cid)).info as { verified: string[] }).verified
      if (verified.length !== 2) throw new Error(`verified on ${verified.join(', ') || 'nothing'}`)
      return `verified on ${verified.join(', ')}`
    })
    await step('route inspect from the parquet index', async () => {
      const reader = new RouteReader({ dataDir: home })
      const deadline = Date.now() + 5000
      for (;;) {
        const r = await reader.inspect(cid)
        if (r.routes.length === 2) return r.routes.map((x) => `${x.backend} (${x.status})`).join(', ')
        if (Date.now() > deadline) throw new Error(`index shows ${r.routes.length} routes`)
        await new Promise((res) => setTimeout(res, 200))
      }
    })
    await step('probe backend health', async () => {
      const h = await client().backendsHealth(true)
      return Object.entries(h)
        .map(([n, v]) => `${n} ${String(v.status)}`)
        .join(', ')
    })
    await step('read the daemon log', async () => {
      const { lines } = await client().logs('daemon', 3)
      if (lines.length === 0) throw new Error('empty log')
      return `${lines.length} lines`
    })
    await step('stop nas-a and watch the repair onto nas-b', async () => {
      await client().stopBackend('nas-a')
      await client().sync({ wait: true })
      const verified = ((await client().getPin(cid)).info as { verified: string[] }).verified
      if (!verified.includes('nas-b') || verified.length !== 2)
        throw new Error(`verified on ${verified.join(', ')}`)
      return `verified on ${verified.join(', ')}`
    })
    await step('read the content back, byte for byte', async () => {
      const repo = Repo.open(home, loadConfig(home))
      try {
        const parts: Uint8Array[] = []
        for await (const c of cat(repo.blocks, cid)) parts.push(c)
        if (!Buffer.concat(parts).equals(content)) throw new Error('bytes differ')
      } finally {
        await repo.close()
      }
      return `${content.length} bytes identical`
    })
  } finally {
    await step(
      'stop the daemon',
      async () => {
        if (daemon.exitCode == null) {
          const exited = new Promise((r) => daemon.once('exit', r))
          daemon.kill('SIGTERM')
          await exited
        }
        return `exit code ${daemon.exitCode}`
      },
      true,
    ) // a daemon left running would keep this command from ever exiting
    if (!keep) rmSync(root, { recursive: true, force: true })
    else out(`kept ${root}`)
  }
  return steps
}
