#!/usr/bin/env bash
# Fuzzes a running ipfs-kit daemon or server through its own OpenAPI document with schemathesis: every check
# (server errors, status codes, content types and schemas of answers, schema-valid requests accepted,
# invalid ones refused, undeclared methods, Allow headers, stateful links), generated requests whose
# formats (CIDs, multiaddrs) come from scripts/openapi_hooks.py, exclusions and their reasons in
# scripts/schemathesis.toml. Exit 0 only when nothing failed.
#   usage: scripts/openapi-fuzz.sh <base-url> <document path> <token> [more `st run` options]
#   e.g.   scripts/openapi-fuzz.sh http://127.0.0.1:8887 /openapi.json "$(cat ~/.ipfs-kit/api-token)"
#          scripts/openapi-fuzz.sh http://127.0.0.1:8888 /api/openapi.json "$(cat ~/.ipfs-kit/api-token)" --max-examples 50
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage='usage: openapi-fuzz.sh <base-url> <document path> <token> [st options]'
url="${1:?$usage}"
doc="${2:?$usage}"
token="${3:?$usage}"
shift 3
st="$(bash "$here/install-schemathesis.sh")"
export PYTHONPATH="$here" SCHEMATHESIS_HOOKS=openapi_hooks
exec "$st" --config-file "$here/schemathesis.toml" run "$url$doc" --url "$url" \
  -H "Authorization: Bearer $token" --seed "${OPENAPI_FUZZ_SEED:-1}" "$@"
