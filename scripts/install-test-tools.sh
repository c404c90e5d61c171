#!/usr/bin/env bash
# Installs what the tests compare against: Kubo (built from the Go module proxy) and Debian's
# independent `ipfs-cid` (its binary is ipfs_cid). Idempotent and quick when both are already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v ipfs_cid >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ipfs-cid >/dev/null
  else
    echo "install-test-tools: ipfs-cid is missing: run 'sudo apt-get install ipfs-cid'" >&2
  fi
fi
# faketime (libfaketime): the clock-jump fault test runs the daemon under a clock that jumps
if ! command -v faketime >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null 2>&1 ||
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null)
  else
    echo "install-test-tools: faketime is missing: run 'sudo apt-get install faketime'" >&2
  fi
fi
bash "$here/install-kubo.sh"
