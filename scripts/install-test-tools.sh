#!/usr/bin/env bash
# Installs what the tests compare against: Kubo (built from the Go module proxy), Debian's
# independent `ipfs-cid` (its binary is ipfs_cid), and a second Node.js (scripts/install-node.sh).
# Idempotent and quick when all are already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v ipfs_cid >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ipfs-cid >/dev/null
  else
    echo "install-test-tools: ipfs-cid is missing: run 'sudo apt-get install ipfs-cid'" >&2
  fi
fi
bash "$here/install-kubo.sh"
# a second Node (the current LTS) for the test that runs the CLI against an addon built for another Node
bash "$here/install-node.sh" >/dev/null
