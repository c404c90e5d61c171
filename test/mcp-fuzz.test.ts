/**
 * Every MCP tool's input fuzzed from its own JSON schema, over Streamable HTTP against a real server
 * and daemon: values of the right type at and past their bounds, wrong types, missing and extra
 * fields, hostile strings (traversal, NUL, huge, unicode, bad CIDs). Every call must come back as a
 * tool result (never a protocol error or a dead server), an error must be a clear message (never a
 * JavaScript internal error or an output that breaks the tool's own output schema), and the server's
 * memory stays bounded. Seeded, so a failure names a case that can be replayed.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { run, suiteTempDir } from './helpers/cli.ts'
import { type Loose, startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

const CASES_PER_TOOL = 40
const SEED = Number(process.env.IPFS_KIT_FUZZ_SEED ?? 20261204)

/** Fields that name a path on this machine: fuzzed only with paths inside the test's directory. */
const LOCAL_PATHS: Record<string, string[]> = {
  content_add: ['path'],
  content_get: ['output'],
  dag_export: ['output'],
  vfs_write: ['local_path'],
}

/** Messages that mean a bug rather than a refusal: a JavaScript error leaking out, or a broken output. */
const INTERNAL =
  /TypeError|ReferenceError|RangeError: Maximum|Cannot read prop|undefined is not|is not a function|Output validation error|\n\s+at /

/** mulberry32: a small seeded PRNG, so every case can be replayed from the seed. */
function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { next, pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! }
}

type Schema = Loose

function strings(cid: string, local: string): string[] {
  return [
    '',
    'a',
    cid,
    `/ipfs/${cid}`,
    `${cid}/missing/path`,
    'QmNotACidAtAll',
    'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
    '/',
    '/docs/a.txt',
    '/../etc/passwd',
    '/a/%2e%2e/b',
    'relative/path',
    'C:\\Windows',
    'nul\u0000byte',
    '\u202e\u{1f4a5} unicode',
    'x'.repeat(5000),
    '{"json":true}',
    '1MB',
    '-1',
    'local',
    `${local}/new-file`,
  ]
}

/** A value for one schema, valid or not, biased to bounds and hostile cases. */
function value(s: Schema, r: ReturnType<typeof prng>, cid: string, local: string, depth = 0): unknown {
  if (s.anyOf != null || s.oneOf != null) return value(r.pick(s.anyOf ?? s.oneOf), r, cid, local, depth)
  if (s.enum != null && r.next() < 0.7) return r.pick(s.enum)
  if (s.const !== undefined && r.next() < 0.7) return s.const
  const type = Array.isArray(s.type) ? r.pick(s.type) : s.type
  // one in eight values has the wrong type
  if (r.next() < 0.125) return r.pick([null, 42, 'text', true, [], {}, -0.5])
  switch (type) {
    case 'string':
      return r.pick(strings(cid, local))
    case 'integer':
    case 'number': {
      const bounds = [s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum].filter(
        (b) => typeof b === 'number',
      ) as number[]
      return r.pick([
        0,
        1,
        -1,
        7,
        65,
        1024,
        2 ** 31,
        Number.MAX_SAFE_INTEGER,
        1e300,
        0.5,
        ...bounds,
        ...bounds.map((b) => b + 1),
      ])
    }
    case 'boolean':
      return r.next() < 0.5
    case 'array': {
      if (depth > 2) return []
      const n = r.pick([0, 1, 2, 70])
      return Array.from({ length: n }, () => value(s.items ?? {}, r, cid, local, depth + 1))
    }
    case 'object':
      return depth > 2 ? {} : args(s, r, cid, local, depth + 1)
    default:
      return r.pick(['x', 1, null])
  }
}

/** Arguments for a tool: each property present with a fuzzed value, sometimes missing, sometimes extra. */
function args(
  s: Schema,
  r: ReturnType<typeof prng>,
  cid: string,
  local: string,
  depth = 0,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    if (r.next() < 0.3) continue
    out[name] = value(prop, r, cid, local, depth)
  }
  if (r.next() < 0.1) out.unexpected_field = 'x'
  return out
}

/** Local-path fields: only relative paths (refused) or new paths inside the test's directory. */
function confine(
  tool: string,
  a: Record<string, unknown>,
  r: ReturnType<typeof prng>,
  local: string,
  i: number,
) {
  for (const field of LOCAL_PATHS[tool] ?? []) {
    if (!(field in a)) continue
    a[field] = r.pick([
      'relative/file',
      `${local}/out-${tool}-${i}`,
      `${local}/in`,
      `${local}/in/small.txt`,
      `${local}/sub/../out-${tool}-${i}-b`,
      `${local}/missing-dir/file`,
      42,
    ])
  }
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? 0) * 1024
}

describe('MCP tools fuzzed from their input schemas', () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon
  let server: TestServer
  let cid: string
  let local: string

  before(async () => {
    home = join(tmp.dir, 'home')
    local = join(tmp.dir, 'local')
    mkdirSync(join(local, 'in'), { recursive: true })
    mkdirSync(join(local, 'sub'), { recursive: true })
    writeFileSync(join(local, 'in', 'small.txt'), 'a small local file\n')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 1000 } })
    const added = await run(['ipfs', 'add', '-Q', '-r', join(local, 'in')], { home })
    assert.equal(added.code, 0, added.stderr)
    cid = added.stdout.toString().trim()
    daemon = await startDaemon(home)
    server = await startServer(home)
  })
  after(async () => {
    await server?.stop()
    await daemon?.stop()
  })

  test(`${CASES_PER_TOOL} cases per tool (seed ${SEED}): tool results only, clear errors, the server alive and bounded`, async (t) => {
    const client = new Client({ name: 'ipfs-kit-fuzz', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${server.token}` } },
    })
    await client.connect(transport)
    const pid = server.child.pid!
    const rssStart = rssOf(pid)
    let rssPeak = rssStart
    const counts = { calls: 0, ok: 0, refused: 0 }
    try {
      const { tools } = await client.listTools()
      assert.ok(tools.length >= 30, `${tools.length} tools`)
      const r = prng(SEED)
      for (const tool of tools) {
        for (let i = 0; i < CASES_PER_TOOL; i++) {
          const a = args(tool.inputSchema, r, cid, local)
          confine(tool.name, a, r, local, i)
          const label = `${tool.name} case ${i} ${JSON.stringify(a).slice(0, 300)}`
          let res: Loose
          try {
            res = (await client.callTool({ name: tool.name, arguments: a }, undefined, {
              timeout: 60_000,
            })) as Loose
          } catch (err) {
            assert.fail(`${label}: a protocol error instead of a tool result: ${(err as Error).message}`)
          }
          counts.calls++
          if (res.isError === true) {
            counts.refused++
            const text = String(res.content?.[0]?.text ?? '')
            assert.ok(text.length > 0 && text.length < 4000, `${label}: an error with a message`)
            assert.doesNotMatch(text, INTERNAL, `${label}: an internal error leaked`)
          } else {
            counts.ok++
            assert.ok(res.structuredContent != null, `${label}: structured content`)
          }
        }
        rssPeak = Math.max(rssPeak, rssOf(pid))
      }
      // still serving: a plain call works after everything above
      const status = (await client.callTool({ name: 'vfs_stat', arguments: { path: '/' } })) as Loose
      assert.notEqual(status.isError, true)
      assert.equal((await server.call('/api/health')).status, 200)
    } finally {
      await transport.terminateSession().catch(() => {})
      await client.close()
    }
    t.diagnostic(
      `${counts.calls} calls: ${counts.ok} answered, ${counts.refused} refused with a message; server RSS ${(rssStart / 2 ** 20).toFixed(0)} -> peak ${(rssPeak / 2 ** 20).toFixed(0)} MiB`,
    )
    assert.ok(counts.ok > counts.calls / 10, 'a fair share of the cases were valid and answered')
    assert.ok(
      rssPeak - rssStart < 256 * 2 ** 20,
      `server RSS grew by ${((rssPeak - rssStart) / 2 ** 20).toFixed(0)} MiB`,
    )
  })
})
