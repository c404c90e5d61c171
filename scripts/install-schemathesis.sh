#!/usr/bin/env bash
# Installs schemathesis (pinned) from PyPI into a venv under ~/.cache/ipfs-kit, for
# scripts/openapi-fuzz.sh; prints the path of its `st`. Idempotent: nothing to do when it is there.
set -euo pipefail
version=4.32.5
venv="${IPFS_KIT_CACHE:-$HOME/.cache/ipfs-kit}/schemathesis"
if [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $version" ]; then
  command -v python3 >/dev/null || { echo "install-schemathesis: python3 is needed (apt-get install python3-venv)" >&2; exit 1; }
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version" >&2
fi
echo "$venv/bin/st"
