// A better-sqlite3 addon built for another Node.js must fail in one clear line that names the fix,
// not in a dlopen stack trace. The CLI runs under a second Node whose ABI differs from the one this
// checkout's addon was built for (the suite's own Node): Node 24 from scripts/install-node.sh when
// the suite runs on Node 20 or 22, Debian's Node 20 when it runs on Node 24.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { describe, it } from 'node:test'
import { run, suiteTempDir } from './helpers/cli.ts'

const ROOT = new URL('..', import.meta.url).pathname

function abiOf(node: string): string {
  return execFileSync(node, ['-p', 'process.versions.modules']).toString().trim()
}

/** A Node.js binary whose NODE_MODULE_VERSION differs from this one's. */
function otherNode(): string {
  const fetched = execFileSync('bash', [join(ROOT, 'scripts/install-node.sh')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const candidates = [join(fetched.toString().trim(), 'bin', 'node'), '/usr/bin/node']
  const other = candidates.find((n) => existsSync(n) && abiOf(n) !== process.versions.modules)
  if (other == null) {
    assert.fail(`needs a Node.js with another ABI than ${process.version}; tried ${candidates.join(', ')}`)
  }
  return other
}

describe('a native addon built for another Node.js', () => {
  const tmp = suiteTempDir()

  it('makes every command that opens the repo print one line with the rebuild command, exit 1', async () => {
    const node = otherNode()
    const version = execFileSync(node, ['--version']).toString().trim()
    const file = join(tmp.dir, 'hello.txt')
    writeFileSync(file, 'hello\n')
    const home = join(tmp.dir, 'repo')
    const nodedir = dirname(dirname(node))
    const expected =
      `Error: better-sqlite3's native addon was built for another Node.js ` +
      `(NODE_MODULE_VERSION ${process.versions.modules}; Node ${version} needs ${abiOf(node)}): ` +
      `rebuild it with \`cd ${ROOT.replace(/\/$/, '')} && npm rebuild better-sqlite3 --nodedir=${nodedir}\`\n`
    for (const args of [
      ['ipfs', 'add', file],
      ['repo', 'stat'],
    ]) {
      const res = await run(args, { home, node })
      assert.equal(res.stderr, expected, `ipfs-kit ${args.join(' ')}`)
      assert.equal(res.code, 1)
      assert.equal(res.stdout.length, 0)
    }
    // the detached daemon fails the same way, and `daemon start` passes the line on
    const res = await run(['daemon', 'start'], { home, node })
    assert.equal(res.code, 1)
    assert.match(
      res.stderr,
      /^Error: the daemon did not start: better-sqlite3's native addon was built for another Node\.js .*npm rebuild better-sqlite3 --nodedir=/,
    )
    assert.equal(res.stderr.trim().split('\n').length, 1)
  })
})
