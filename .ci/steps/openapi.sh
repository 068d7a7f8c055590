#!/usr/bin/env bash
# Fail when the committed platform OpenAPI document (sdk/openapi/basalt.json) is stale.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${VENV:-.venv}/bin/python"
[ -x "$PY" ] || PY=python3
fresh="$(mktemp)"
trap 'rm -f "$fresh"' EXIT
BASALT_DATA_DIR="$(mktemp -d)" "$PY" manage.py export_openapi "$fresh"
if ! diff -u sdk/openapi/basalt.json "$fresh"; then
  echo "sdk/openapi/basalt.json is stale: run 'python manage.py export_openapi sdk/openapi/basalt.json'" >&2
  exit 1
fi
echo "sdk/openapi/basalt.json is up to date"
