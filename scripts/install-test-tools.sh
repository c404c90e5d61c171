#!/usr/bin/env bash
# Installs what the tests use besides npm packages, from Debian's archive when run as root:
# ipfs-cid (an independent CID reference; binary ipfs_cid), strace (the durability-order test reads
# system calls), faketime (the clock-jump fault test), chromium (the dashboard test, driven by
# playwright-core); a second Node.js, the current LTS (scripts/install-node.sh), for the test that runs
# the CLI against an addon built for another Node; then builds Kubo, IPFS Cluster and versitygw (an S3
# server) from the Go module proxy (scripts/install-go-tools.sh), and schemathesis from PyPI into a venv
# (scripts/install-schemathesis.sh) for the OpenAPI fuzz test.
# Idempotent and quick when all are there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
for pair in ipfs_cid:ipfs-cid strace:strace faketime:faketime chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install-test-tools: missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
  fi
fi
bash "$here/install-node.sh" >/dev/null
bash "$here/install-go-tools.sh"
bash "$here/install-schemathesis.sh" >/dev/null
