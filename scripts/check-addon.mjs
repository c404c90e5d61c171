#!/usr/bin/env node
// Run at the end of `npm ci` / `npm install` (the prepare script, after the build): makes sure
// better-sqlite3's native addon loads in the Node that ran the install. It is built from source
// when no prebuilt binary can be downloaded, against the headers npm's `nodedir` names; when that is
// another Node's (Debian's npm config points it at Node 20's), the addon cannot load in this one.
// Then it is rebuilt here against this Node's own headers, so the install is right for the Node the
// user runs instead of failing at the first command.
import { spawnSync } from 'node:child_process'
import { addonRebuild, openSqlite } from '../dist/state/sqlite.js'

try {
  openSqlite(':memory:').close()
  process.exit(0)
} catch (err) {
  if (err?.code !== 'ERR_NATIVE_ADDON') throw err
  console.error(`check-addon: ${err.message}; doing that now`)
}
const { dir, nodedir } = addonRebuild()
// npm runs this script with npm_execpath set: the same npm, under this Node
const npm = process.env.npm_execpath
const [cmd, args] = npm ? [process.execPath, [npm]] : ['npm', []]
// nodedir '' (not unset) overrides a nodedir from npm's config: node-gyp then fetches this Node's headers
const env = { ...process.env, npm_config_nodedir: nodedir ?? '' }
const rebuilt = spawnSync(cmd, [...args, 'rebuild', 'better-sqlite3'], { cwd: dir, env, stdio: 'inherit' })
const check = spawnSync(
  process.execPath,
  ['--input-type=module', '-e', "(await import('./dist/state/sqlite.js')).openSqlite(':memory:').close()"],
  { cwd: new URL('..', import.meta.url).pathname, stdio: ['ignore', 'ignore', 'pipe'] },
)
if (rebuilt.status !== 0 || check.status !== 0) {
  console.error(`check-addon: rebuilding better-sqlite3 for Node ${process.version} failed`)
  console.error(check.stderr?.toString().trim())
  process.exit(1)
}
console.error(
  `check-addon: better-sqlite3 rebuilt for Node ${process.version}${nodedir ? ` (headers from ${nodedir})` : ''}`,
)
