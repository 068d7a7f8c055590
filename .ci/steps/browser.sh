#!/usr/bin/env bash
# The console's browser tests need Debian's Chromium and the Playwright client (never
# `playwright install`: browsers cannot be downloaded here). CI runs this as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
VENV="${VENV:-.venv-ci}"
# requirements-dev.txt pins playwright; install it explicitly too so this step stands alone.
"$VENV/bin/pip" install --quiet "$(grep -E '^playwright==' requirements-dev.txt | cut -d' ' -f1)"
"$VENV/bin/python" -c "import playwright.sync_api; print('playwright', __import__('importlib.metadata').metadata.version('playwright'))"
