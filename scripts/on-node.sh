#!/usr/bin/env bash
# Runs a command under a given Node.js, in a checkout whose node_modules is built for that Node:
# this one when its better-sqlite3 addon loads there, otherwise a copy of this working tree in
# .cache/on-node/<version>/ (gitignored), installed with `npm ci` against that Node's headers the
# first time and whenever package-lock.json changes, rebuilt (`npm run build`) on every call.
# A bench report written in the copy is copied back as bench/results/latest-node-<version>.md.
# Usage: scripts/on-node.sh 24|system|/path/to/bin/node COMMAND...
#   scripts/on-node.sh 24 npm run bench        # the benchmarks under Node 24 (scripts/install-node.sh)
#   scripts/on-node.sh system npm run bench    # ... under the `node` on PATH (Debian's Node 20 here)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/on-node.sh 24|system|/path/to/bin/node COMMAND..." >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
case "$1" in
  24) node="$(bash "$root/scripts/install-node.sh")/bin/node" ;;
  system) node="$(command -v node)" ;;
  *) node="$1" ;;
esac
shift
[ -x "$node" ] || { echo "on-node: $node is not an executable Node.js" >&2; exit 2; }
node="$(cd "$(dirname "$node")" && pwd)/$(basename "$node")"
version="$("$node" --version)"
prefix="$(dirname "$(dirname "$node")")"
export PATH="$(dirname "$node"):$PATH"
# headers next to the binary: build addons against them, whatever nodedir npm's config names
if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi

if (cd "$root" && node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null); then
  echo "on-node: $version in $root" >&2
  cd "$root"
  exec "$@"
fi

copy="$root/.cache/on-node/$version"
mkdir -p "$copy"
# replace everything but node_modules with the working tree's files (tracked and untracked, not ignored)
find "$copy" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
(cd "$root" && git ls-files -z -co --exclude-standard) | (cd "$root" && tar -c --null -T -) | tar -x -C "$copy"
cd "$copy"
if ! cmp -s package-lock.json node_modules/.on-node-lock.json; then
  echo "on-node: npm ci for $version in $copy" >&2
  npm ci
  cp package-lock.json node_modules/.on-node-lock.json
else
  npm run --silent build
fi
echo "on-node: $version in $copy" >&2
start="$(date +%s)"
status=0
"$@" || status=$?
report="$copy/bench/results/latest.md"
if [ -f "$report" ] && [ "$(stat -c %Y "$report")" -ge "$start" ]; then
  mkdir -p "$root/bench/results"
  cp "$report" "$root/bench/results/latest-node-$version.md"
  echo "on-node: report copied to bench/results/latest-node-$version.md" >&2
fi
exit "$status"
