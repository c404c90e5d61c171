import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { BIN, suiteTempDir } from './helpers/cli.ts'
import { type Loose, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const TOOLS = [
  'backend_health',
  'backend_list',
  'backend_logs',
  'backend_start',
  'backend_stop',
  'content_add',
  'content_cat',
  'content_get',
  'content_ls',
  'content_stat',
  'daemon_status',
  'dag_export',
  'pin_add',
  'pin_list',
  'pin_remove',
  'pin_status',
  'replication_status',
  'replication_sync',
  'route_inspect',
  'route_stats',
  'route_suggest',
  'vfs_cp',
  'vfs_flush',
  'vfs_ls',
  'vfs_mkdir',
  'vfs_mv',
  'vfs_read',
  'vfs_rm',
  'vfs_stat',
  'vfs_write',
]

/** Calls a tool and returns its structured result, failing the test on a tool error. */
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<Loose> {
  const res = (await client.callTool({ name, arguments: args })) as Loose
  assert.notEqual(res.isError, true, `${name} failed: ${res.content?.[0]?.text}`)
  assert.ok(res.structuredContent != null, `${name} returned structured content`)
  assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent)
  return res.structuredContent
}

/** Lists the tools, checks names and annotations, then calls every one against the running daemon. */
async function exerciseEveryTool(client: Client, root: string, tag: string): Promise<void> {
  const dir = join(root, `${tag}-in`)
  mkdirSync(dir, { recursive: true })
  const { tools } = await client.listTools()
  assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS)
  for (const t of tools) {
    assert.ok(t.outputSchema != null, `${t.name} has an output schema`)
    assert.equal(t.inputSchema.type, 'object')
  }
  const byName = new Map(tools.map((t) => [t.name, t]))
  assert.equal(byName.get('content_cat')?.annotations?.readOnlyHint, true)
  assert.equal(byName.get('pin_remove')?.annotations?.destructiveHint, true)
  assert.equal(byName.get('pin_add')?.annotations?.idempotentHint, true)

  const text = await call(client, 'content_add', { text: `hello from ${tag}\n` })
  assert.match(text.cid, /^Qm/)
  const file = join(dir, `${tag}.txt`)
  writeFileSync(file, `a file for ${tag}\n`)
  const added = await call(client, 'content_add', { path: dir, cid_version: 1 })
  assert.match(added.cid, /^bafy/)
  const cat = await call(client, 'content_cat', { path: text.cid, offset: 6, length: 4 })
  assert.equal(cat.data, 'from')
  assert.equal(cat.eof, false)
  const ls = await call(client, 'content_ls', { path: added.cid })
  assert.ok(ls.entries.some((e: Loose) => e.name === `${tag}.txt` && e.type === 'raw')) // CIDv1: a raw leaf
  const st = await call(client, 'content_stat', { path: `${added.cid}/${tag}.txt` })
  assert.equal(st.size, `a file for ${tag}\n`.length)
  const out = join(root, `${tag}-restored.txt`)
  await call(client, 'content_get', { path: `${added.cid}/${tag}.txt`, output: out })
  assert.equal(readFileSync(out, 'utf8'), `a file for ${tag}\n`)
  const car = join(root, `${tag}.car`)
  const exported = await call(client, 'dag_export', { cid: added.cid, output: car })
  assert.ok(existsSync(car))
  assert.equal(exported.bytes, statSync(car).size)
  assert.ok(exported.bytes > 0)

  const pinned = await call(client, 'pin_add', { cid: text.cid, name: `pin-${tag}`, min_replicas: 1 })
  assert.equal(pinned.pin.pin.cid, text.cid)
  const listed = await call(client, 'pin_list', { name: `pin-${tag}` })
  assert.equal(listed.count, 1)
  const status = await call(client, 'pin_status', { cid: text.cid })
  assert.equal(status.pin.pin.cid, text.cid)

  const backends = await call(client, 'backend_list')
  assert.ok(backends.backends.some((b: Loose) => b.name === 'local'))
  await call(client, 'backend_health', { probe: true })
  await call(client, 'backend_stop', { name: 'local' })
  await call(client, 'backend_start', { name: 'local' })
  const logs = await call(client, 'backend_logs', { name: 'daemon', lines: 5 })
  assert.ok(logs.lines.length > 0)
  await call(client, 'replication_status')
  const sync = await call(client, 'replication_sync', { wait: true })
  assert.ok(sync.report != null)
  const daemon = await call(client, 'daemon_status')
  assert.equal(daemon.running, true)

  // the daemon republishes the pin index within a second of a change
  let route: Loose
  for (let i = 0; ; i++) {
    const res = (await client.callTool({ name: 'route_inspect', arguments: { cid: text.cid } })) as Loose
    if (res.isError !== true && res.structuredContent.route.pinned) {
      route = res.structuredContent
      break
    }
    assert.ok(i < 100, `the pin index never showed ${text.cid}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.equal(route.route.cid, text.cid)
  const suggest = await call(client, 'route_suggest', { size: '1MB' })
  assert.equal(suggest.size, 1_000_000)
  const stats = await call(client, 'route_stats')
  assert.ok(stats.pins >= 1)

  await exerciseVfs(client, tag, text.cid)

  const removed = await call(client, 'pin_remove', { cid: text.cid })
  assert.equal(removed.removed, true)

  const bad = (await client.callTool({ name: 'content_cat', arguments: { path: 'not-a-cid' } })) as Loose
  assert.equal(bad.isError, true)
  assert.match(bad.content[0].text, /invalid CID "not-a-cid"/)
  const absent = (await client.callTool({
    name: 'content_stat',
    arguments: { path: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' },
  })) as Loose
  assert.equal(absent.isError, true)
  assert.match(absent.content[0].text, /not stored locally/)
  const relative = (await client.callTool({
    name: 'content_add',
    arguments: { path: 'relative/file' },
  })) as Loose
  assert.equal(relative.isError, true)
  assert.match(relative.content[0].text, /not an absolute path/)
}

/** The text of a resource's first content. */
function textOf(res: { contents: object[] }): string {
  const text = (res.contents[0] as { text?: unknown } | undefined)?.text
  assert.equal(typeof text, 'string', 'a text resource')
  return text as string
}

/** The VFS tools and the resources: a small tree made, read, copied, moved and removed. */
async function exerciseVfs(client: Client, tag: string, textCid: string): Promise<void> {
  const made = await call(client, 'vfs_mkdir', { path: `/${tag}/docs`, parents: true })
  assert.equal(made.path, `/${tag}/docs`)
  const body = `hello from ${tag}\n`
  const written = await call(client, 'vfs_write', { path: `/${tag}/docs/a.txt`, text: body, pin: true })
  assert.match(written.cid, /^Qm/)
  assert.equal(written.size, body.length)
  assert.equal(written.pinned, true)
  const read = await call(client, 'vfs_read', { path: `/${tag}/docs/a.txt`, offset: 6, length: 4 })
  assert.equal(read.data, 'from')
  assert.equal(read.file_size, body.length)
  await call(client, 'vfs_write', {
    path: `/${tag}/docs/a.txt`,
    base64: Buffer.from('HELLO').toString('base64'),
  })
  const changed = await call(client, 'vfs_read', { path: `/${tag}/docs/a.txt` })
  assert.equal(changed.data, `HELLO from ${tag}\n`)
  assert.equal(changed.eof, true)
  const ls = await call(client, 'vfs_ls', { path: `/${tag}/docs` })
  assert.deepEqual(
    ls.entries.map((e: Loose) => [e.name, e.type, e.size]),
    [['a.txt', 'file', body.length]],
  )
  const copied = await call(client, 'vfs_cp', { from: `/ipfs/${textCid}`, to: `/${tag}/copy.txt` })
  assert.equal(copied.cid, textCid)
  await call(client, 'vfs_mv', { from: `/${tag}/copy.txt`, to: `/${tag}/docs/` })
  const st = await call(client, 'vfs_stat', { path: `/${tag}/docs/copy.txt` })
  assert.equal(st.cid, textCid)
  const flushed = await call(client, 'vfs_flush', { path: `/${tag}` })
  assert.equal(flushed.cid, (await call(client, 'vfs_stat', { path: `/${tag}` })).cid)
  const rm = await call(client, 'vfs_rm', { path: `/${tag}/docs/copy.txt` })
  assert.equal(rm.removed, true)
  const root = await call(client, 'vfs_stat', { path: '/' })
  assert.equal(rm.root, root.cid)
  const pin = await call(client, 'pin_status', { cid: written.cid })
  assert.equal(pin.pin.pin.cid, written.cid)

  const traversal = (await client.callTool({
    name: 'vfs_write',
    arguments: { path: `/${tag}/../x`, text: 'x' },
  })) as Loose
  assert.equal(traversal.isError, true)
  assert.match(traversal.content[0].text, /"\." and "\.\." are not allowed/)
  const missing = (await client.callTool({ name: 'vfs_read', arguments: { path: `/${tag}/none` } })) as Loose
  assert.equal(missing.isError, true)
  assert.match(missing.content[0].text, /no such file or directory/)

  const { resources } = await client.listResources()
  assert.ok(resources.some((r) => r.uri === 'ipfs-kit://pins'))
  assert.ok(resources.some((r) => r.uri === `vfs:///${tag}`))
  const { resourceTemplates } = await client.listResourceTemplates()
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate).sort(), [
    'ipfs-kit://pins/{cid}',
    'vfs://{+path}',
  ])
  const file = await client.readResource({ uri: `vfs:///${tag}/docs/a.txt` })
  assert.equal(textOf(file), `HELLO from ${tag}\n`)
  assert.equal(file.contents[0]?.mimeType, 'text/plain; charset=utf-8')
  const dir = await client.readResource({ uri: `vfs:///${tag}/docs` })
  assert.deepEqual(
    JSON.parse(textOf(dir)).entries.map((e: Loose) => e.name),
    ['a.txt'],
  )
  const pins = await client.readResource({ uri: 'ipfs-kit://pins' })
  assert.ok(JSON.parse(textOf(pins)).results.some((p: Loose) => p.pin.cid === textCid))
  const one = await client.readResource({ uri: `ipfs-kit://pins/${textCid}` })
  assert.equal(JSON.parse(textOf(one)).pin.cid, textCid)
}

describe('MCP tools against a real daemon', () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon
  let server: TestServer

  before(async () => {
    home = join(tmp.dir, 'home')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 5000 } })
    daemon = await startDaemon(home)
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
    await daemon?.stop()
  })

  test('over stdio (`ipfs-kit mcp`): lists every tool and calls each one', async () => {
    const client = new Client({ name: 'ipfs-kit-test', version: '1.0.0' })
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, '--data-dir', home, 'mcp'],
      env: { ...process.env, IPFS_KIT_HOME: home } as Record<string, string>,
      stderr: 'pipe',
    })
    await client.connect(transport)
    try {
      await exerciseEveryTool(client, tmp.dir, 'stdio')
    } finally {
      await client.close()
    }
  })

  test('over Streamable HTTP at /mcp with the Bearer token: lists every tool and calls each one', async () => {
    const client = new Client({ name: 'ipfs-kit-test', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${server.token}` } },
    })
    await client.connect(transport)
    try {
      await exerciseEveryTool(client, tmp.dir, 'http')
    } finally {
      await transport.terminateSession().catch(() => {})
      await client.close()
    }
  })

  test('/mcp refuses a missing token (401) and a foreign Origin (403)', async () => {
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    }
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
    const noToken = await server.call('/mcp', { method: 'POST', headers, body: JSON.stringify(init) })
    assert.equal(noToken.status, 401)
    const foreign = await server.call('/mcp', {
      method: 'POST',
      auth: true,
      headers: { ...headers, origin: 'http://evil.example' },
      body: JSON.stringify(init),
    })
    assert.equal(foreign.status, 403)
  })

  test('with the daemon down, management tools return a tool error saying how to start it', async () => {
    const down = join(tmp.dir, 'down')
    writeConfig(down, {})
    const client = new Client({ name: 'ipfs-kit-test', version: '1.0.0' })
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [BIN, '--data-dir', down, 'mcp'],
        env: { ...process.env, IPFS_KIT_HOME: down } as Record<string, string>,
        stderr: 'pipe',
      }),
    )
    try {
      const res = (await client.callTool({ name: 'pin_list', arguments: {} })) as Loose
      assert.equal(res.isError, true)
      assert.match(res.content[0].text, /ipfs-kit daemon start/)
      const status = await call(client, 'daemon_status')
      assert.equal(status.running, false)
      const added = await call(client, 'content_add', { text: 'no daemon needed\n' })
      assert.match(added.cid, /^Qm/)
      // the VFS needs no daemon either
      await call(client, 'vfs_write', { path: '/offline/note.txt', text: 'written offline\n', parents: true })
      assert.equal((await call(client, 'vfs_read', { path: '/offline/note.txt' })).data, 'written offline\n')
    } finally {
      await client.close()
    }
  })
})
