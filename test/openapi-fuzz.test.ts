/**
 * The daemon's and the server's OpenAPI documents say what they do: schemathesis 4.32 (scripts/openapi-fuzz.sh)
 * generates requests from it, valid and invalid, for every operation and every check (no 5xx, only
 * documented status codes and content types, answers that match their schemas, valid requests
 * accepted, invalid ones refused, 405 with Allow for other methods, stateful links between
 * operations) and finds nothing. The operations that reconfigure the daemon run too, their paths and
 * addresses confined to a sandbox (scripts/openapi_hooks.py). Fails, never skips, when schemathesis
 * cannot be installed.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { run, suiteTempDir } from './helpers/cli.ts'
import { startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { writeRandomFile } from './helpers/fixtures.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const exec = promisify(execFile)
const SCRIPT = new URL('../scripts/openapi-fuzz.sh', import.meta.url).pathname

/** Runs scripts/openapi-fuzz.sh against one document; fails with schemathesis's report. */
async function fuzz(url: string, doc: string, token: string, sandbox: string): Promise<void> {
  let out: string
  try {
    const r = await exec('bash', [SCRIPT, url, doc, token, '--max-examples', '10'], {
      maxBuffer: 64 << 20,
      timeout: 900_000,
      env: { ...process.env, IPFS_KIT_FUZZ_SANDBOX: sandbox },
    })
    out = r.stdout + r.stderr
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string }
    assert.fail(`schemathesis found failures (or could not run):\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
  const summary = /(\d+) generated, (\d+) passed/.exec(out)
  assert.ok(summary, out)
  assert.equal(summary[1], summary[2], out)
  assert.ok(Number(summary[1]) > 300, `only ${summary[1]} requests were generated`)
}

describe('OpenAPI documents of the daemon and the server, fuzzed', () => {
  const tmp = suiteTempDir()
  let d: TestDaemon
  let server: TestServer
  let home: string

  before(async () => {
    home = join(tmp.dir, 'home')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], fetch_timeout_ms: 1000 } })
    // some content and a pin, so that the stateful phase has resources to follow
    const file = join(tmp.dir, 'a.bin')
    writeRandomFile(file, 300_000, 'fuzz')
    const added = await run(['ipfs', 'add', '-Q', file], { home })
    assert.equal(added.code, 0, added.stderr)
    d = await startDaemon(home)
    const pinned = await d.call('/pins', { method: 'POST', json: { cid: added.stdout.toString().trim() } })
    assert.ok(pinned.ok, await pinned.text())
  })
  after(async () => {
    await server?.stop()
    await d?.stop()
  })

  it('the daemon: schemathesis --checks all finds no failure', async () => {
    const sandbox = join(tmp.dir, 'sandbox')
    await fuzz(d.url, '/openapi.json', d.token, sandbox)
    // PUT /config and POST /backends ran (they reconfigure the daemon), confined to the sandbox
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as {
      backends?: { type: string; path?: string; bin?: string }[]
    }
    for (const b of config.backends ?? []) {
      for (const path of [b.path, b.bin]) {
        if (path != null)
          assert.ok(path.startsWith(`${sandbox}/`), `${b.type} backend outside the sandbox: ${path}`)
      }
    }
  })

  it('the server: schemathesis --checks all finds no failure', async () => {
    server = await startServer(home)
    await fuzz(server.url, '/api/openapi.json', server.token, join(tmp.dir, 'sandbox'))
  })
})
