#!/bin/sh
# Builds the HashiCorp Vault dev server used by the integration tests (crypto/vaulttest) from the
# Go module proxy, via the tools/vault module, and prints the binary's path on stdout.
#
# The binary is cached outside the repo in ${SDE_CACHE:-$HOME/.cache/sde}/vault-<version>/vault
# and built only if missing: the first build takes minutes and downloads GBs of modules. The
# build goes to a temporary name that is renamed into place, so an interrupted build never
# leaves a broken cached binary; a lock keeps concurrent runs from building twice.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
gomod="$root/tools/vault/go.mod"
version=$(awk '$1 == "github.com/hashicorp/vault" { print $2; exit }' "$gomod")
if [ -z "$version" ]; then
	echo "vault.sh: cannot find the Vault version in tools/vault/go.mod" >&2
	exit 1
fi
cache="${SDE_CACHE:-$HOME/.cache/sde}/vault-$version"
bin="$cache/vault"

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$cache/.build.lock"
	flock 9
	if [ -x "$bin" ]; then # another run built it while we waited
		echo "$bin"
		exit 0
	fi
fi

tmp="$cache/.vault.tmp.$$"
trap 'rm -f "$tmp"' EXIT INT TERM
echo "vault.sh: building Vault $version into $cache (first time: several minutes)..." >&2
start=$(date +%s)
(cd "$root/tools/vault" && go build -o "$tmp" github.com/hashicorp/vault) >&2
"$tmp" version >/dev/null # a binary that cannot run is not cached
mv -f "$tmp" "$bin"
echo "vault.sh: built in $(($(date +%s) - start))s" >&2
echo "$bin"
