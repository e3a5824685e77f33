#!/usr/bin/env bash
# CI for the TypeScript side, called by .ci/run: works from a fresh clone (no node_modules).
#
#  1. installs what it needs: the Python venv (uv sync), npm ci in clients/typescript and
#     clients/nextjs, Debian's chromium when /usr/bin/chromium is missing;
#  2. regenerates clients/openapi.json, clients/typescript/{contract.json,schemas.ts} and
#     docs/wire-formats.md, and fails
#     when they differ from the committed ones (a Pydantic change without `make generate-types`);
#  3. type-checks both packages (tsc --noEmit) and builds the Next.js kit (next build);
#  4. runs the node tests: the contract test against the real service, and the end-to-end test
#     (Chromium → next start → the service → the OpenAI-compatible test server).
#
# Every process it starts is stopped on exit, failure or interrupt.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never NEXT_TELEMETRY_DISABLED=1 npm_config_update_notifier=false
began=$(date +%s)
# Scratch space for everything started below (databases, logs, browser profile): removed on exit.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/clients-ci.XXXXXX")
export TMPDIR=$scratch
step() { printf '\n--- clients/ci.sh: %s (%ss)\n' "$*" "$(($(date +%s) - began))"; }

groups=()
cleanup() {
  local status=$?
  for group in "${groups[@]}"; do
    kill -TERM -- "-$group" 2>/dev/null || true
  done
  for group in "${groups[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$group" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$group" 2>/dev/null || true
  done
  rm -rf "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in DIR in its own process group (so cleanup can stop all of it), waits for it.
run_in() {
  local dir=$1
  shift
  (cd "$dir" && exec setsid "$@") &
  local pid=$!
  groups+=("$pid")
  wait "$pid"
}

step "toolchain"
# The kit needs Node >= 22 (the AI SDK's `ai` requires it). An older machine Node gets a Node 22
# from the npm registry's `node` package, installed once under clients/.node22 (not tracked).
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
  if [ ! -x clients/.node22/node_modules/.bin/node ]; then
    echo "node $(node --version 2>/dev/null || echo missing) is older than 22: installing node@22 into clients/.node22"
    npm install --prefix clients/.node22 --no-audit --no-fund --loglevel=error node@22
  fi
  export PATH="$PWD/clients/.node22/node_modules/.bin:$PATH"
fi
node -e 'if (Number(process.versions.node.split(".")[0]) < 22) { console.error(`node ${process.version}: need >= 22`); process.exit(1); }'
echo "node $(node --version), npm $(npm --version 2>/dev/null)"
if ! command -v uv >/dev/null 2>&1; then make uv && export PATH="$PWD/.bootstrap/bin:$PATH"; fi
uv sync --frozen --quiet

step "npm ci (clients/typescript)"
npm ci --prefix clients/typescript --no-audit --no-fund --loglevel=error

step "regenerate the contract and fail on any difference"
bash clients/generate.sh all
generated=(clients/openapi.json clients/typescript/contract.json clients/typescript/schemas.ts docs/wire-formats.md)
untracked=$(git ls-files --others -- "${generated[@]}")
if [ -n "$untracked" ]; then
  echo "clients/: generated files that git does not track: $untracked (git add them)" >&2
  exit 1
fi
if ! git --no-pager diff --exit-code --stat -- "${generated[@]}"; then
  git --no-pager diff -- "${generated[@]}" | head -100
  echo "clients/: the generated contract is stale: run \`make openapi generate-types wire-formats\` and commit the result" >&2
  exit 1
fi
echo "generated files (contract, OpenAPI, docs/wire-formats.md) match app/schemas.py and the app"

step "npm ci (clients/nextjs)"
npm ci --prefix clients/nextjs --no-audit --no-fund --loglevel=error

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM_PATH:-}" ]; then
  step "apt-get install chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

step "tsc --noEmit"
(cd clients/typescript && npx --no-install tsc --noEmit)
(cd clients/nextjs && npx --no-install tsc --noEmit)

step "next build"
run_in clients/nextjs npx --no-install next build

step "node --test (contract + end to end)"
run_in clients/nextjs node --conditions=react-server --import tsx --test --test-reporter=spec \
  test/contract.test.ts test/heartbeats.test.ts test/e2e.test.ts test/chat.e2e.test.ts

step "done in $(($(date +%s) - began))s"
