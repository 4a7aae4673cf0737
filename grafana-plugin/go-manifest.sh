#!/usr/bin/env bash
# grafana-plugin/go-manifest.sh [OUT] — the Go build manifest of the plugin: one
# "sha256:path" line per Go file of its source code, what the SDK's mage build writes
# next to the backend binary (default OUT: grafana-plugin/dist/go_plugin_build_manifest)
# and what Grafana's plugin validator checks the submitted source code against.
# `npm run build` runs it (postbuild), so the zip of `make plugin` carries it.
#
# The plugin's source code, laid out as a plugin repository (validate.sh hands that
# to the validator): grafana-plugin/ at its root, the module's go.mod and go.sum,
# and the other packages of this module that the backend is built from
# (exporter/api/client) at their paths. `--list` prints that layout, one
# "REPOSITORY_PATH LAYOUT_PATH" line per file, instead.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# files: grafana-plugin's files but what git ignores (build output, packages); outside
# a git checkout, the same by name.
files() {
  git ls-files -co --exclude-standard grafana-plugin 2>/dev/null ||
    find grafana-plugin \( -name node_modules -o -name dist -o -name coverage -o -name .zip -o -path grafana-plugin/e2e/out \) -prune \
      -o -type f ! -name '*.zip' ! -name .eslintcache -print
}

layout() {
  files | while read -r f; do
    [ -f "$f" ] && echo "$f ${f#grafana-plugin/}"
  done
  echo "go.mod go.mod"
  echo "go.sum go.sum"
  GOFLAGS=-mod=readonly go list -deps \
    -f '{{if .Module}}{{if eq .Module.Path "github.com/kwindow/kwindow"}}{{.Dir}}{{end}}{{end}}' ./grafana-plugin/pkg |
    while read -r dir; do
      rel=${dir#"$ROOT"/}
      case $rel in grafana-plugin/*) continue ;; esac
      for f in "$rel"/*.go; do
        [ -f "$f" ] && echo "$f $f"
      done
    done
}

if [ "${1:-}" = --list ]; then
  layout | sort -u -k2
  exit 0
fi
OUT=${1:-grafana-plugin/dist/go_plugin_build_manifest}
mkdir -p "$(dirname "$OUT")"
layout | sort -u -k2 | while read -r repo path; do
  case $path in *.go) echo "$(sha256sum "$repo" | cut -d' ' -f1):$path" ;; esac
done >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
