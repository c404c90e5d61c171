import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { BIN, suiteTempDir } from './helpers/cli.ts'
import { type Loose, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'

/** The MCP Inspector's CLI (an independent client; 0.15.0 is its last release that runs on Node 20). */
const INSPECTOR = new URL(
  '../node_modules/@modelcontextprotocol/inspector/cli/build/index.js',
  import.meta.url,
).pathname

/** `mcp-inspector-cli node bin/ipfs-kit.js --data-dir HOME mcp --method ...`: its JSON answer. */
function inspect(home: string, args: string[]): Promise<Loose> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [INSPECTOR, process.execPath, BIN, '--data-dir', home, 'mcp', ...args],
      { env: { ...process.env, IPFS_KIT_HOME: home }, timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err != null) reject(new Error(`inspector ${args.join(' ')} failed: ${stderr || err.message}`))
        else resolve(JSON.parse(stdout))
      },
    )
  })
}

describe('the MCP Inspector CLI as an independent client (stdio)', () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon

  before(async () => {
    home = join(tmp.dir, 'home')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 5000 } })
    daemon = await startDaemon(home)
  })
  after(async () => {
    await daemon?.stop()
  })

  test('tools/list shows every tool with its schemas and annotations', async () => {
    const { tools } = await inspect(home, ['--method', 'tools/list'])
    assert.equal(tools.length, 30)
    assert.ok(tools.some((t: Loose) => t.name === 'vfs_write' && t.annotations.destructiveHint === true))
    const cat = tools.find((t: Loose) => t.name === 'content_cat')
    assert.equal(cat.annotations.readOnlyHint, true)
    assert.equal(cat.inputSchema.properties.length.maximum, 1024 * 1024)
    assert.ok(tools.every((t: Loose) => t.outputSchema?.type === 'object'))
  })

  test('tools/call: add text, read part of it back, pin it and ask the daemon', async () => {
    const added = await inspect(home, [
      '--method',
      'tools/call',
      '--tool-name',
      'content_add',
      '--tool-arg',
      'text=inspected',
    ])
    const cid = added.structuredContent.cid as string
    assert.match(cid, /^Qm/)
    const cat = await inspect(home, [
      '--method',
      'tools/call',
      '--tool-name',
      'content_cat',
      '--tool-arg',
      `path=${cid}`,
      'offset=2',
      'length=4',
    ])
    assert.equal(cat.structuredContent.data, 'spec')
    const pinned = await inspect(home, [
      '--method',
      'tools/call',
      '--tool-name',
      'pin_add',
      '--tool-arg',
      `cid=${cid}`,
    ])
    assert.equal(pinned.structuredContent.pin.pin.cid, cid)
    const status = await inspect(home, ['--method', 'tools/call', '--tool-name', 'daemon_status'])
    assert.equal(status.structuredContent.running, true)
    const failing = await inspect(home, [
      '--method',
      'tools/call',
      '--tool-name',
      'content_stat',
      '--tool-arg',
      'path=not-a-cid',
    ])
    assert.equal(failing.isError, true)
    assert.match(failing.content[0].text, /invalid CID/)
  })
})
