#!/usr/bin/env bash
# Install the Node clients (TypeScript SDK, Claude Code) into tests/node/node_modules, only when the lock changed.
# Called by bin/test; safe to run by hand. Skips quietly when npm is missing (the node tests then skip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v npm >/dev/null 2>&1; then
  echo "tests/node/install.sh: npm not found; Node client tests will be skipped" >&2
  exit 0
fi
stamp="node_modules/.installed-lock"
digest="$( (cat package.json package-lock.json; node --version) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && [ -x node_modules/.bin/claude ]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$digest" > "$stamp"
