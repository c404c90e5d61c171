#!/usr/bin/env bash
# Fuzzes a running ipfs-kit daemon or server through its own OpenAPI document with schemathesis: every check
# (server errors, status codes, content types and schemas of answers, schema-valid requests accepted,
# invalid ones refused, undeclared methods, Allow headers, stateful links), generated requests whose
# formats (CIDs, multiaddrs) come from scripts/openapi_hooks.py, exclusions and their reasons in
# scripts/schemathesis.toml. Exit 0 only when nothing failed.
#   usage: scripts/openapi-fuzz.sh <base-url> <document path> <token> [more `st run` options]
#   e.g.   scripts/openapi-fuzz.sh http://127.0.0.1:8887 /openapi.json "$(cat ~/.ipfs-kit/api-token)"
#          scripts/openapi-fuzz.sh http://127.0.0.1:8888 /api/openapi.json "$(cat ~/.ipfs-kit/api-token)" --max-examples 50
# PUT /config, POST /backends and DELETE /backends/{name} run only when IPFS_KIT_FUZZ_SANDBOX names a
# directory their paths are confined to (a throwaway daemon's, as test/openapi-fuzz.test.ts runs it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
usage='usage: openapi-fuzz.sh <base-url> <document path> <token> [st options]'
url="${1:?$usage}"
doc="${2:?$usage}"
token="${3:?$usage}"
shift 3
st="$(bash "$here/install-schemathesis.sh")"
# reconfiguring operations run only with a sandbox (see scripts/openapi_hooks.py): not against a real daemon
if [ -z "${IPFS_KIT_FUZZ_SANDBOX:-}" ]; then
  set -- --exclude-name 'PUT /config' --exclude-name 'POST /backends' --exclude-name 'DELETE /backends/{name}' "$@"
fi
export PYTHONPATH="$here" SCHEMATHESIS_HOOKS=openapi_hooks
exec "$st" --config-file "$here/schemathesis.toml" run "$url$doc" --url "$url" \
  -H "Authorization: Bearer $token" --seed "${OPENAPI_FUZZ_SEED:-1}" "$@"
