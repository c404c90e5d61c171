#!/usr/bin/env bash
# Builds Kubo's `ipfs` into ~/.cache/ipfs-kit/bin; kept for the commands in BENCHMARKS.md and the
# README. scripts/install-go-tools.sh builds it and the other Go programs the tests run.
set -euo pipefail
exec bash "$(cd "$(dirname "$0")" && pwd)/install-go-tools.sh" kubo
