#!/usr/bin/env bash
# Regenerates the TypeScript side of the contract from the Python models.
#
#   bash clients/generate.sh types     # clients/typescript/contract.json + schemas.ts (make generate-types)
#   bash clients/generate.sh openapi   # clients/openapi.json (make openapi)
#   bash clients/generate.sh docs      # docs/wire-formats.md (make wire-formats)
#   bash clients/generate.sh all
#
# Deterministic: run it twice, get the same bytes. CI (clients/ci.sh) runs it and fails on a diff.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
UV=${UV:-uv}
what=${1:-all}

types() {
  $UV run --frozen --quiet python -m scripts.export_schemas contract --out clients/typescript/contract.json
  # Install the pinned generator when it is missing or older than the lock file.
  if [ ! -f clients/typescript/node_modules/.package-lock.json ] ||
    [ clients/typescript/package-lock.json -nt clients/typescript/node_modules/.package-lock.json ]; then
    npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error
  fi
  node clients/typescript/generate.mjs
}

openapi() {
  $UV run --frozen --quiet python -m scripts.export_schemas openapi --out clients/openapi.json
  echo "wrote clients/openapi.json"
}

docs() {
  $UV run --frozen --quiet python -m scripts.wire_formats --out docs/wire-formats.md
  echo "wrote docs/wire-formats.md"
}

case "$what" in
  types) types ;;
  openapi) openapi ;;
  docs) docs ;;
  all) openapi && docs && types ;;
  *) echo "usage: $0 types|openapi|docs|all" >&2; exit 2 ;;
esac
