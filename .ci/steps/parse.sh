#!/usr/bin/env bash
# The Parse-face tests drive the real `parse` npm SDK under Node: install it (pinned by
# package-lock.json) into tests/parse/node/node_modules (gitignored).
set -euo pipefail
cd "$(dirname "$0")/../../tests/parse/node"
command -v node >/dev/null || { echo "node is required for the Parse-face tests" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
node -e "require('parse/node'); console.log('parse', JSON.parse(require('fs').readFileSync('node_modules/parse/package.json')).version)"
