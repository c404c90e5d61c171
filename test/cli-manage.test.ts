import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Command } from 'commander'
import { run, tempDir } from './helpers/cli.ts'
import { writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'

const MiB = 1 << 20

/** The words of a shell command line up to its first pipe or redirection, quotes removed. */
function shellWords(line: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: string | undefined
  for (const ch of line.trim()) {
    if (quote != null) {
      if (ch === quote) quote = undefined
      else word += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      word ??= ''
    } else if ('|>)<;&'.includes(ch)) break
    else if (/\s/.test(ch)) {
      if (word != null) words.push(word)
      word = undefined
    } else word = (word ?? '') + ch
  }
  if (word != null) words.push(word)
  return words
}

function text(r: { stdout: Buffer }): string {
  return r.stdout.toString()
}
function parsed(r: { stdout: Buffer; stderr: string; code: number | null }) {
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout.toString())
}

describe('the management CLI against a real daemon', () => {
  let tmp: ReturnType<typeof tempDir>
  let home: string
  let cid: string
  before(async () => {
    tmp = tempDir()
    home = join(tmp.dir, 'home')
    const nas = join(tmp.dir, 'nas')
    const usb = join(tmp.dir, 'usb')
    mkdirSync(nas)
    mkdirSync(usb)
    writeConfig(home, {
      port: 0,
      backends: [
        { name: 'nas', type: 'filesystem', path: nas },
        { name: 'usb', type: 'filesystem', path: usb },
      ],
      replication: { min_replicas: 2, max_replicas: 3, preferred: ['nas'] },
    })
    const file = join(tmp.dir, 'doc.bin')
    writeRandomFile(file, 2 * MiB, 'manage')
    cid = text(await run(['ipfs', 'add', '-Q', file], { home })).trim()
    const started = await run(['daemon', 'start'], { home })
    assert.equal(started.code, 0, started.stderr)
  })
  after(async () => {
    await run(['daemon', 'stop'], { home })
    tmp.cleanup()
  })

  it('backend list / health / stop / start / logs, in text and JSON', async () => {
    const list = await run(['backend', 'list'], { home })
    assert.equal(list.code, 0, list.stderr)
    assert.match(text(list), /^NAME\s+TYPE\s+STATE\s+HEALTH/m)
    assert.match(text(list), /^nas\s+filesystem\s+running\s+healthy/m)
    const json = parsed(await run(['--json', 'backend', 'list'], { home }))
    assert.deepEqual(
      json.backends.map((b: { name: string }) => b.name),
      ['local', 'nas', 'usb'],
    )
    const health = parsed(await run(['--json', 'backend', 'health'], { home }))
    assert.equal(health.usb.status, 'healthy')
    assert.match(text(await run(['backend', 'stop', 'usb'], { home })), /usb: stopped/)
    assert.equal(parsed(await run(['--json', 'backend', 'health'], { home })).usb.state, 'stopped')
    assert.match(text(await run(['backend', 'start', 'usb'], { home })), /usb: running/)
    const logs = await run(['backend', 'logs', 'usb', '--lines', '2'], { home })
    assert.equal(logs.code, 0, logs.stderr)
    assert.equal(text(logs).trim().split('\n').length, 2)
    const unknown = await run(['backend', 'start', 'ghost'], { home })
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no backend named "ghost"/)
  })

  it('pin add / status / list / remove and replication sync / status', async () => {
    const sync = await run(['replication', 'sync', '--wait'], { home })
    assert.equal(sync.code, 0, sync.stderr)
    assert.match(text(sync), /synced \d+ pins in \d+ ms: \d+ copied/)
    const status = parsed(await run(['--json', 'pin', 'status', cid], { home }))
    assert.deepEqual([...status.info.verified].sort(), ['local', 'nas'])
    const human = text(await run(['pin', 'status', cid], { home }))
    assert.match(human, new RegExp(`${cid}: pinned \\(ok\\)`))
    const list = await run(['pin', 'list', '--status', 'pinned'], { home })
    assert.match(text(list), new RegExp(`^${cid}\\s+-\\s+pinned\\s+ok\\s+local,nas$`, 'm'))
    const other = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    assert.match(
      text(await run(['pin', 'add', other, '--name', 'x', '--min', '1'], { home })),
      /pinned .* \(queued\)/,
    )
    assert.equal(parsed(await run(['--json', 'pin', 'list'], { home })).count, 2)
    assert.match(text(await run(['pin', 'remove', other], { home })), /unpinned/)
    const repl = parsed(await run(['--json', 'replication', 'status'], { home }))
    assert.equal(repl.totals.ok, 1)
    assert.match(text(await run(['replication', 'status'], { home })), /totals: pins 1, ok 1/)
    const bad = await run(['pin', 'add', 'not-a-cid'], { home })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /invalid CID/)
  })

  it('route inspect / stats / suggest answer from the index, also with the daemon stopped', async () => {
    await run(['replication', 'sync', '--wait'], { home })
    await new Promise((r) => setTimeout(r, 1500)) // the index is republished within a second
    const live = parsed(await run(['--json', 'route', 'inspect', cid], { home }))
    assert.deepEqual(live.routes.map((r: { backend: string }) => r.backend).sort(), ['local', 'nas'])
    assert.equal((await run(['daemon', 'stop'], { home })).code, 0)
    try {
      const inspect = parsed(await run(['--json', 'route', 'inspect', cid], { home }))
      assert.deepEqual(inspect, live)
      assert.match(text(await run(['route', 'inspect', cid], { home })), /1\. (local|nas)\s+healthy/)
      const stats = parsed(await run(['--json', 'route', 'stats'], { home }))
      assert.equal(stats.pins, 1)
      const nas = stats.backends.find((b: { backend: string }) => b.backend === 'nas')
      assert.equal(nas.verified, 1)
      assert.ok(nas.bytes >= 2 * MiB)
      const suggest = parsed(await run(['--json', 'route', 'suggest', '--size', '1MB'], { home }))
      assert.equal(suggest.targets[0].backend, 'nas', 'the preferred backend first')
      assert.equal(suggest.targets.length, 2)
      const tooBig = parsed(await run(['--json', 'route', 'suggest', '--size', '900TB'], { home }))
      assert.equal(tooBig.targets.length, 0)
      assert.match(tooBig.rejected[0].reason, /bytes free, needs/)
      // management commands say how to start the daemon
      const down = await run(['pin', 'list'], { home })
      assert.equal(down.code, 1)
      assert.match(down.stderr, /the daemon is not running .* start it with `ipfs-kit daemon start`/)
      assert.equal(down.stderr.trim().split('\n').length, 1)
      // content commands keep working
      assert.equal((await run(['ipfs', 'stat', cid], { home })).code, 0)
    } finally {
      assert.equal((await run(['daemon', 'start'], { home })).code, 0)
    }
  })

  it('config show / get / set, and helpful errors for unknown commands', async () => {
    assert.equal(text(await run(['config', 'get', 'replication.min_replicas'], { home })).trim(), '2')
    const set = await run(['config', 'set', 'health_check_interval', '12'], { home })
    assert.match(text(set), /saved and applied/)
    const daemonConfig = parsed(await run(['--json', 'daemon', 'status'], { home }))
    assert.equal(daemonConfig.running, true)
    assert.equal(JSON.parse(text(await run(['config', 'show'], { home }))).health_check_interval, 12)
    const bad = await run(['config', 'set', 'port', '"eighty"'], { home })
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /invalid config key "port"/)
    const typo = await run(['pinn', 'list'], { home })
    assert.equal(typo.code, 2)
    assert.match(typo.stderr, /unknown command 'pinn'/)
    assert.match(typo.stderr, /Did you mean pin\?/)
    const flag = await run(['pin', 'list', '--stat', 'x'], { home })
    assert.equal(flag.code, 2)
    assert.match(flag.stderr, /Did you mean --status\?/)
  })

  it('a wrong token is refused with one clear line', async () => {
    const { copyFileSync, writeFileSync: write } = await import('node:fs')
    const tokenFile = join(home, 'api-token')
    copyFileSync(tokenFile, `${tokenFile}.good`)
    try {
      write(tokenFile, `${'0'.repeat(64)}\n`)
      const r = await run(['pin', 'add', cid], { home })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /^Error: the bearer token is wrong/)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    } finally {
      copyFileSync(`${tokenFile}.good`, tokenFile)
    }
  })

  it('ipfs id prints a stable peer ID, and --json the same facts', async () => {
    const human = JSON.parse(text(await run(['ipfs', 'id'], { home })))
    const json = parsed(await run(['--json', 'ipfs', 'id'], { home }))
    assert.equal(human.ID, json.ID)
    assert.match(json.ID, /^12D3KooW/)
    assert.ok(json.Addresses.every((a: string) => a.endsWith(`/p2p/${json.ID}`)))
  })

  it('every command has --help with an example that the CLI parses as written, with real values', async () => {
    const { buildProgram } = await import('../src/cli/main.ts')
    const { CID } = await import('multiformats/cid')
    const leaves = (root: Command) => {
      const found: { path: string; cmd: Command }[] = []
      const walk = (cmd: Command, prefix: string[]) => {
        for (const sub of cmd.commands) {
          const path = [...prefix, sub.name()]
          if (sub.commands.length > 0) walk(sub, path)
          else found.push({ path: path.join(' '), cmd: sub })
        }
      }
      walk(root, [])
      return found
    }
    const commands = leaves(buildProgram())
    assert.ok(commands.length >= 30, `${commands.length} commands`)
    let examples = 0
    for (const { path } of commands) {
      // the real binary prints the help
      const r = await run([...path.split(' '), '--help'], { home })
      assert.equal(r.code, 0)
      assert.match(text(r), /Usage: ipfs-kit/)
      const lines =
        text(r)
          .split(/Examples?:\n/)[1]
          ?.split('\n') ?? []
      const invocations = lines.filter((l) => l.includes('ipfs-kit '))
      assert.ok(invocations.length > 0, `${path} --help shows an example`)
      for (const line of invocations) {
        const argv = shellWords(line.slice(line.indexOf('ipfs-kit ') + 'ipfs-kit '.length))
        for (const word of argv) {
          assert.doesNotMatch(
            word,
            /^<[\w-]+>$|^\[[\w-]+\]$|\.\.\./,
            `${path}: "${line.trim()}" has a placeholder`,
          )
          const cid = /^(?:\/ipfs\/)?((?:Qm|baf)[1-9A-Za-z]+)/.exec(word)?.[1]
          if (cid != null) assert.doesNotThrow(() => CID.parse(cid), `${path}: ${cid} is a real CID`)
        }
        // parsed by the CLI's own parser (flags, their values, required arguments): it runs the command it documents
        const program = buildProgram()
        let ran: string | undefined
        for (const leaf of leaves(program)) {
          leaf.cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
          leaf.cmd.action(() => {
            ran = leaf.path
          })
        }
        program.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
        await program.parseAsync(argv, { from: 'user' })
        assert.equal(ran, path, `"${line.trim()}" runs ${path}`)
        examples++
      }
    }
    assert.ok(examples > commands.length, `${examples} examples`)
  })
})

describe('ipfs-kit demo', () => {
  it('runs the whole architecture in a temporary directory and reports a full checklist', async () => {
    const tmp = tempDir()
    try {
      const r = await run(['--json', 'demo'], { home: join(tmp.dir, 'unused') })
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`)
      const report = JSON.parse(r.stdout.toString())
      assert.equal(report.ok, true)
      assert.ok(report.steps.length >= 9)
      for (const step of report.steps) assert.equal(step.ok, true, `${step.name}: ${step.detail}`)
      assert.ok(
        report.steps.some((s: { detail: string }) => /verified on .*nas-b/.test(s.detail)),
        'repair onto nas-b',
      )
    } finally {
      tmp.cleanup()
    }
  })
})
