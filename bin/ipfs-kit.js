#!/usr/bin/env node
// Load the polyfills before anything else: helia needs Promise.withResolvers, which Node 20 lacks.
import '../dist/polyfills.js'
import module from 'node:module'

// Node >= 22.1 keeps compiled code between runs: a small command then starts faster still
module.enableCompileCache?.()
// the bundled CLI (scripts/build-cli.mjs): one file to load instead of hundreds of modules
const { main } = await import('../dist/bin/main.js')
await main(process.argv)
