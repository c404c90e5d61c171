#!/usr/bin/env node
// Bundles the CLI (and the daemon it starts) into dist/bin/ with rolldown: a small command loads a
// few CommonJS files instead of ~250 modules (zod alone is 95 files), and everything a command
// loads lazily (libp2p, Helia, fastify, parquet, the exporter) is split into chunks loaded only
// when used. tsc still emits dist/ for the library (`import ... from 'ipfs-kit'`); the bin runs this.
//
// Why CommonJS (dist/bin/package.json says so; the library stays ES modules): Node 20 loads an ES
// module through an asynchronous loader (a resolve, a module job and four thread-pool round trips
// per file) and has no compile cache for it, while require() reads, compiles and runs a file in one
// synchronous step, whose compiled code bin/ipfs-kit.js can keep between runs. A 6-byte `ipfs cat`,
// 15 interleaved runs, Node 20: ES module chunks (esbuild) 81 ms; CommonJS chunks 63 ms; with the
// compile cache 52 ms; Kubo 41 ms. esbuild splits chunks only for ES modules; rolldown splits both.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'rolldown'

const root = new URL('..', import.meta.url).pathname
const out = join(root, 'dist/bin')
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Worker entry modules (started by file name next to their caller) become entries of their own. */
function workerEntries(dir) {
  const found = {}
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) Object.assign(found, workerEntries(path))
    else if (e.name.endsWith('-worker.ts')) found[e.name.slice(0, -'.ts'.length)] = path
  }
  return found
}

// chunk names carry content hashes: start empty so that old ones do not pile up
rmSync(out, { recursive: true, force: true })
await build({
  cwd: root,
  input: { main: join(root, 'src/cli/main.ts'), ...workerEntries(join(root, 'src')) },
  platform: 'node',
  tsconfig: join(root, 'tsconfig.build.json'),
  // the AWS SDK stays a package of its own: only the s3 backend loads it, on first use, and bundling
  // it would cost the bundle size for nothing
  external: [/^@aws-sdk\//],
  transform: { define: { IPFS_KIT_VERSION: JSON.stringify(version) }, target: 'node20.19' },
  output: {
    dir: out,
    format: 'cjs',
    // entries and chunks beside each other, named .js: a module's `new URL('./x.js' or '../../x',
    // import.meta.url)` (the publish worker, the dashboard's files) then resolves as it does from
    // tsc's dist/<area>/
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    // `import('node:https')`, `import('@aws-sdk/...')`: require() too, so that bin/ipfs-kit.js's
    // compile cache (vm.Script) on Node 20 needs no dynamic-import hook (an experimental one there)
    dynamicImportInCjs: false,
    comments: { legal: false },
  },
  logLevel: 'warn',
  // a module both imported and dynamically imported stays in its chunk: that is fine here
  onLog(level, log, handler) {
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log)
  },
})
// the package is "type": "module"; these files are CommonJS
writeFileSync(join(out, 'package.json'), '{ "type": "commonjs" }\n')
