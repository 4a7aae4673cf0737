#!/usr/bin/env bash
# grafana-plugin/validate.sh [PLUGIN.zip] — Grafana's plugin validator
# (github.com/grafana/plugin-validator, pinned below) on the plugin's zip
# (default grafana-plugin/kwindow-kwindow-datasource.zip, built by `make plugin`) and
# its source code, offline. Fails on any finding of severity error or warning but
# the accepted ones listed below, each with its reason.
#
# The validator's dependencies clash with kwindow's module, so it is built in a
# scratch module of its own, cached in PLUGIN_VALIDATOR_CACHE (default
# ~/.cache/kwindow-plugin-validator/VERSION; about a minute the first time). Its
# plugincheck2 stops at the first analyzer that cannot reach the internet, so
# validate/plugincheck.go (built there too) runs each analyzer on its own, with the
# plugin.json schema the validator module ships; the analyzers that only ask a
# service, or need a tool that is not installed (gosec, semgrep, clamscan), are
# listed as not run. The source code is laid out as a plugin repository in a
# temporary directory (go-manifest.sh --list: grafana-plugin/ at the root, go.mod,
# go.sum, the backend's other packages) and checked against the zip: its source
# maps, and its Go build manifest (go_plugin_build_manifest, from go-manifest.sh).
set -Eeuo pipefail

VERSION=v0.39.3
MODULE=github.com/grafana/plugin-validator
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ZIP=${1:-$HERE/kwindow-kwindow-datasource.zip}
CACHE=${PLUGIN_VALIDATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kwindow-plugin-validator/$VERSION}

# The accepted findings (analyzer/rule=reason).
ACCEPT=(
  "manifest/unsigned-plugin=the signature: a plugin is signed by Grafana Labs once published; Grafana loads this one unsigned (allow_loading_unsigned_plugins)"
  "buildtools/non-standard-backend-build-tooling=the backend is built by the repository's Makefile (go build, CGO off, linux/amd64, version ldflags; go-manifest.sh writes the manifest the SDK's mage build would), not a Magefile: kwindow is one Go module, the plugin a folder of it"
  "license/license-not-provided=kwindow has no LICENSE yet (package.json says Apache-2.0): choosing the license is the owner's decision; then copy it into dist/ in .config/webpack/webpack.config.ts"
)

say() { echo "validate.sh: $*" >&2; }
[ -f "$ZIP" ] || { say "$ZIP missing: make plugin"; exit 1; }

# ---- the validator, built once per version ------------------------------------------
BIN=$CACHE/plugincheck
SUM=$(sha256sum "$HERE/validate/plugincheck.go" | cut -d' ' -f1)
if ! [ -x "$BIN" ] || [ "$(cat "$CACHE/plugincheck.sha256" 2>/dev/null)" != "$SUM" ]; then
  say "building $MODULE@$VERSION in a scratch module ($CACHE)"
  mkdir -p "$CACHE"
  MOD=$CACHE/module
  rm -rf "$MOD"
  mkdir -p "$MOD"
  cp "$HERE/validate/plugincheck.go" "$MOD/main.go"
  sed -i '/^\/\/go:build ignore$/d' "$MOD/main.go"
  (
    cd "$MOD"
    export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=local
    go mod init kwindow.local/plugin-validator >/dev/null 2>&1
    go get "$MODULE@$VERSION" >/dev/null 2>&1 || go get "$MODULE@$VERSION"
    go build -o "$BIN.tmp" .
  )
  mv "$BIN.tmp" "$BIN"
  echo "$SUM" >"$CACHE/plugincheck.sha256"
fi
SCHEMA=$(cd "$CACHE/module" && GOFLAGS=-mod=mod GOWORK=off go list -m -f '{{.Dir}}' "$MODULE")/config/plugin.schema.json

# ---- the source code, laid out as a plugin repository ------------------------------------
SRC=$(mktemp -d "${TMPDIR:-/tmp}/kwindow-plugin-source.XXXXXX")
trap 'rm -rf "$SRC"' EXIT
"$HERE/go-manifest.sh" --list | while read -r repo path; do
  mkdir -p "$SRC/$(dirname "$path")"
  cp "$HERE/../$repo" "$SRC/$path"
done

args=(-schema "$SCHEMA" -source "$SRC")
for a in "${ACCEPT[@]}"; do args+=(-accept "$a"); done
say "$MODULE@$VERSION on $ZIP, source code from $(git -C "$HERE" describe --always --dirty 2>/dev/null || echo the work tree)"
"$BIN" "${args[@]}" "$ZIP"
