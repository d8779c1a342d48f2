#!/usr/bin/env bash
# Prints the path of Debian's Chromium for the browser tests (cmd/sde/browser_test.go),
# installing the distribution package when it is missing. apt keeps the downloaded packages in
# its own cache, outside the repository. Set SDE_CHROMIUM_BIN to use another Chromium build.
set -euo pipefail
if [ -n "${SDE_CHROMIUM_BIN:-}" ] && [ -x "$SDE_CHROMIUM_BIN" ]; then
  echo "$SDE_CHROMIUM_BIN"
  exit 0
fi
for b in chromium chromium-browser; do
  if p="$(command -v "$b")"; then
    echo "$p"
    exit 0
  fi
done
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "chromium.sh: Chromium is missing and installing it needs root (apt-get install chromium)" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "chromium.sh: installing Debian's chromium for the browser tests (once)..." >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium
