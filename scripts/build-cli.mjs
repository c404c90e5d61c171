#!/usr/bin/env node
// Bundles the CLI (and the daemon it starts) into dist/bin/ with esbuild: one file to load for a
// small command instead of ~250 modules (zod alone is 95 files), with everything a command loads
// lazily (libp2p, Helia, fastify, parquet, the exporter) split into chunks loaded only when used.
// tsc still emits dist/ for the library (`import ... from 'ipfs-kit'`); the bin runs this bundle.
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const root = new URL('..', import.meta.url).pathname
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Worker entry modules (started by file name next to their caller) become entries of their own. */
function workerEntries(dir) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...workerEntries(path))
    else if (e.name.endsWith('-worker.ts')) out.push(path)
  }
  return out
}

// chunk names carry content hashes: start empty so that old ones do not pile up
rmSync(join(root, 'dist/bin'), { recursive: true, force: true })
await build({
  absWorkingDir: root,
  entryPoints: [join(root, 'src/cli/main.ts'), ...workerEntries(join(root, 'src'))],
  outdir: join(root, 'dist/bin'),
  entryNames: '[name]',
  // chunks beside the entries: a module's `new URL('./x.js' or '../../x', import.meta.url)` (the
  // publish worker, the dashboard's files) then resolves as it does from tsc's dist/<area>/
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  // better-sqlite3's JavaScript is bundled: as a package it is 13 CommonJS files to find and load,
  // plus `bindings` and its search, on every command (a 6-byte `cat`, 40 interleaved runs: Node 20
  // 150.7 -> 139.0 ms, Node 24 91.3 -> 87.4 ms). Its native addon loads from node_modules as
  // before: openSqlite (src/state/sqlite.ts) hands it the addon's path.
  // the AWS SDK stays a package of its own: only the s3 backend loads it, on first use, and bundling
  // its CommonJS build would cost the bundle size for nothing
  external: ['@aws-sdk/*'],
  define: { IPFS_KIT_VERSION: JSON.stringify(version) },
  // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins
  banner: {
    js: "import { createRequire as __ikCreateRequire } from 'node:module'; const require = __ikCreateRequire(import.meta.url);",
  },
  legalComments: 'none',
  logLevel: 'warning',
})
