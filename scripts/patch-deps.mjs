#!/usr/bin/env node
// Mends a defect in installed dependencies that no released version fixes yet; run by `prepare`
// (after every `npm ci` / `npm install`, before the build bundles them).
//
// protons-runtime (5.x-8.x, every copy in the tree) builds its 64-bit LongBits with `lo | 0`, a
// signed cast: a uint64 in [2^31, 2^32) is then written as zero bytes. ipfs-unixfs encodes a file's
// size and its children's sizes through it, so `ipfs add` of a file of 2-4 GiB wrote a root node
// whose filesize reads back as 0 (a CID Kubo would not make, a node strict decoders refuse). The
// cast protobuf.js (where this code comes from) uses is the unsigned `>>> 0`. Checked by
// src/content/uint64.test.ts; to be reported upstream (libp2p/protons).
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const BUGGY = ['this.lo = lo | 0;', 'this.hi = hi | 0;']
const FIXED = ['this.lo = lo >>> 0;', 'this.hi = hi >>> 0;']

/** Every node_modules/protons-runtime under `dir`, however deeply nested. */
function* copies(dir) {
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue
    const path = join(dir, e.name)
    if (e.name === 'protons-runtime') yield path
    else if (e.name.startsWith('@') || e.name === 'node_modules') yield* copies(path)
    else yield* copies(join(path, 'node_modules'))
  }
}

let mended = 0
let fine = 0
for (const dir of copies(join(root, 'node_modules'))) {
  const file = join(dir, 'dist', 'src', 'utils', 'longbits.js')
  try {
    statSync(file)
  } catch {
    continue // a version without this file: nothing to mend
  }
  let text = readFileSync(file, 'utf8')
  if (FIXED.every((l) => text.includes(l))) {
    fine++
    continue
  }
  if (!BUGGY.every((l) => text.includes(l))) {
    console.error(`patch-deps: ${file} is neither the known defect nor its fix: check it by hand`)
    process.exit(1)
  }
  BUGGY.forEach((l, i) => {
    text = text.replace(l, FIXED[i])
  })
  writeFileSync(file, text)
  mended++
}
console.log(`patch-deps: protons-runtime uint64 cast mended in ${mended} copies (${fine} already mended)`)
