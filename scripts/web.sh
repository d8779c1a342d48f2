#!/usr/bin/env bash
# Fetches the web workbench's third-party browser assets from the npm registry (versions pinned
# in web/package-lock.json) and copies them into the embedded assets, sde/httpapi/web/vendor.
# The copies are committed so `go build` works without Node.js; `make test` runs this script so
# CI checks they are exactly what the lock file names (git diff shows any drift).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "web.sh: npm (Node.js) is needed to fetch the chart library" >&2
  exit 1
fi
npm ci --prefix web --no-audit --no-fund --loglevel=error >&2
dst=sde/httpapi/web/vendor
mkdir -p "$dst"
cp web/node_modules/echarts/dist/echarts.common.min.js "$dst/echarts.min.js"
cp web/node_modules/echarts/LICENSE "$dst/echarts.LICENSE.txt"
