#!/usr/bin/env bash
# Fuzzes a running ipfs-kit daemon through its own OpenAPI document with schemathesis: every check
# (server errors, status codes, content types and schemas of answers, schema-valid requests accepted,
# invalid ones refused, undeclared methods, Allow headers, stateful links), generated requests whose
# formats (CIDs, multiaddrs) come from scripts/openapi_hooks.py, exclusions and their reasons in
# scripts/schemathesis.toml. Exit 0 only when nothing failed.
#   usage: scripts/openapi-fuzz.sh <base-url> <token> [more `st run` options, e.g. --max-examples 50]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
url="${1:?usage: openapi-fuzz.sh <base-url> <token> [st options]}"
token="${2:?usage: openapi-fuzz.sh <base-url> <token> [st options]}"
shift 2
st="$(bash "$here/install-schemathesis.sh")"
export PYTHONPATH="$here" SCHEMATHESIS_HOOKS=openapi_hooks
exec "$st" --config-file "$here/schemathesis.toml" run "$url/openapi.json" \
  -H "Authorization: Bearer $token" --seed "${OPENAPI_FUZZ_SEED:-1}" "$@"
