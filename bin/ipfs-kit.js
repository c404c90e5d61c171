#!/usr/bin/env node
// The ipfs-kit command. CommonJS (bin/package.json), like the bundle it runs (dist/bin/, built by
// scripts/build-cli.mjs): require() loads a file in one synchronous step, where Node 20's ES module
// loader takes a resolve, a module job and four thread-pool round trips per file.
'use strict'
const Module = require('node:module')
const { join, sep } = require('node:path')

/**
 * Keeps the compiled code of the bundle between runs, so that a small command does not compile
 * again what the last one did (a 6-byte `ipfs cat` on Node 20: 63 -> 52 ms). Node >= 22.1 does this
 * itself (module.enableCompileCache); on Node 20 the bundle's files are compiled here through
 * vm.Script with V8's code cache, one file per bundle file and Node version, written atomically
 * when the process exits. The cache sits in the user's own cache directory, not a shared /tmp: code
 * read from it runs. NODE_DISABLE_COMPILE_CACHE=1 turns it off, as it does Node's.
 */
function enableCompileCache() {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return
  const home = process.env.XDG_CACHE_HOME || join(require('node:os').homedir(), '.cache')
  const dir = join(home, 'ipfs-kit', 'compile-cache')
  if (typeof Module.enableCompileCache === 'function') {
    Module.enableCompileCache(dir)
    return
  }
  const fs = require('node:fs')
  const vm = require('node:vm')
  const bundle = join(__dirname, '..', 'dist', 'bin') + sep
  // one directory per Node and build (the time dist/bin/main.js was written); older builds' go
  const nodeDir = join(dir, `${process.version}-${process.arch}`)
  const build = String(Math.trunc(fs.statSync(`${bundle}main.js`).mtimeMs))
  const cacheDir = join(nodeDir, build)
  const fresh = []
  const compile = Module.prototype._compile
  Module.prototype._compile = function (content, filename, ...rest) {
    // rest: Node 20.19's format ('module' for an ES module that require() loads)
    if (!filename.startsWith(bundle) || rest[0] === 'module')
      return compile.call(this, content, filename, ...rest)
    const file = join(cacheDir, `${filename.slice(bundle.length)}-${content.length}`)
    let cachedData
    try {
      cachedData = fs.readFileSync(file)
    } catch {}
    const script = new vm.Script(Module.wrap(content), {
      filename,
      cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    })
    if (cachedData === undefined || script.cachedDataRejected) fresh.push([file, script])
    const req = (id) => this.require(id)
    req.resolve = (request, options) => Module._resolveFilename(request, this, false, options)
    req.main = process.mainModule
    req.cache = Module._cache
    req.extensions = Module._extensions
    return script
      .runInThisContext({ displayErrors: true })
      .call(this.exports, this.exports, req, this, filename, join(filename, '..'))
  }
  // after the run: the cache then holds the functions the command compiled, not only the top level
  process.once('exit', () => {
    if (fresh.length === 0) return
    try {
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 })
      for (const [file, script] of fresh) {
        const tmp = `${file}.${process.pid}.tmp`
        fs.writeFileSync(tmp, script.createCachedData())
        fs.renameSync(tmp, file)
      }
      for (const old of fs.readdirSync(nodeDir)) {
        if (old !== build) fs.rmSync(join(nodeDir, old), { recursive: true, force: true })
      }
    } catch {
      // a cache that cannot be written only costs the next run its compile time
    }
  })
}

// bin/ipfs-kit (the shell script npm installs as the command) set NODE_EXTRA_CA_CERTS aside for a
// command that opens no TLS connection, so that Node 20 did not parse it at start: put it back for
// the processes this one starts
if (process.env.IPFS_KIT_NODE_EXTRA_CA_CERTS !== undefined) {
  process.env.NODE_EXTRA_CA_CERTS = process.env.IPFS_KIT_NODE_EXTRA_CA_CERTS
  delete process.env.IPFS_KIT_NODE_EXTRA_CA_CERTS
}
enableCompileCache()
require('../dist/bin/main.js').main(process.argv)
