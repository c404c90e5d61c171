#!/usr/bin/env node
// Load the polyfills before anything else: helia needs Promise.withResolvers, which Node 20 lacks.
import '../dist/polyfills.js'

const { main } = await import('../dist/cli/main.js')
await main(process.argv)
