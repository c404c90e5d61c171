#!/usr/bin/env bash
# Installs what the tests compare against: Kubo (built from the Go module proxy) and Debian's
# independent `ipfs-cid` (its binary is ipfs_cid), and strace, which test/durability-order.test.ts
# reads system calls with. Idempotent and quick when all are already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v ipfs_cid >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ipfs-cid >/dev/null
  else
    echo "install-test-tools: ipfs-cid is missing: run 'sudo apt-get install ipfs-cid'" >&2
  fi
fi
if ! command -v strace >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace >/dev/null
  else
    echo "install-test-tools: strace is missing: run 'sudo apt-get install strace'" >&2
  fi
fi
bash "$here/install-kubo.sh"
