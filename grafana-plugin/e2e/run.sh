#!/usr/bin/env bash
# grafana-plugin/e2e/run.sh — the body of `make e2e-grafana` (which builds bin/kwindow and the
# plugin first): kwindow's Grafana data source in a real Grafana 10.0, driven by
# headless Chromium.
#
# It starts, on loopback: the embedded broker; two `kwindow run` instances of one
# consumer group (own instance_id, state dir and query API address; configuration
# kwindow.yml: the default aggregations with 10 s windows); Debian's Prometheus
# scraping both (native histograms); the load generator at E2E_RATE events/s with an
# error spike on /api/checkout; and Grafana from ../shared/grafana (run.sh) with
# grafana-plugin/dist, dashboards/provisioning and this folder's alerting overlay.
# check.mjs then runs the checks (README: "Grafana end-to-end test"). Every process
# started here is stopped on exit; logs and screenshots go to OUT (default
# grafana-plugin/e2e/out).
#
# Grafana comes from GRAFANA_SHARED's build.sh (cache GRAFANA_CACHE). When it cannot be
# built, this fails with the reason, unless GRAFANA_UNAVAILABLE=1 marks Grafana as
# unavailable on this machine: then it says so and exits 0 without running the checks.
#
# Knobs: E2E_RATE (events/s, 1000), E2E_SPIKE_AT and E2E_SPIKE_FOR (s, 45 and 120),
# E2E_OUT, KWINDOW (the binary), CHROMIUM; E2E_HOLD=1 starts everything, writes the
# addresses to OUT/env.sh and keeps the stack up until interrupted (no check runs).
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/grafana-plugin/e2e
cd "$ROOT"
G=${GRAFANA_SHARED:-../shared/grafana}
[[ $G == /* ]] || G=$ROOT/$G
CACHE=${GRAFANA_CACHE:-$HOME/.cache/kwindow-grafana}
OUT=${E2E_OUT:-$HERE/out}
KWINDOW=${KWINDOW:-$ROOT/bin/kwindow}
PLUGIN_DIST=$ROOT/grafana-plugin/dist
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
RATE=${E2E_RATE:-1000}          # events/s of the load generator
SPIKE_AT=${E2E_SPIKE_AT:-45}    # s after the load generator's start
SPIKE_FOR=${E2E_SPIKE_FOR:-120} # s
SPIKE_RATE=0.5                  # 5xx ratio of /api/checkout during the spike (normal: 0.02)

say() { echo "e2e-grafana: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# ---- the Grafana build (never two build.sh at once: they share the cache) ----------
grafana_unavailable() {
  if [ "${GRAFANA_UNAVAILABLE:-}" = 1 ]; then
    say "NOT RUN: Grafana is marked unavailable (GRAFANA_UNAVAILABLE=1): $*"
    say "no check ran; unset GRAFANA_UNAVAILABLE to make this a failure"
    exit 0
  fi
  die "the Grafana build cannot be obtained: $*
  (set GRAFANA_UNAVAILABLE=1 to mark Grafana as unavailable on this machine)"
}
[ -x "$G/build.sh" ] || grafana_unavailable "no $G/build.sh (GRAFANA_SHARED=${GRAFANA_SHARED:-../shared/grafana})"
waited=0
BUILDING='^(/usr/bin/env )?(/usr)?(/bin/)?bash [^ ]*grafana/build\.sh'
while pgrep -f "$BUILDING" >/dev/null; do
  ((waited % 60 == 0)) && say "another build.sh is running (pid $(pgrep -f "$BUILDING" | head -n 1)): waiting for it"
  ((waited < 3600)) || die "another build.sh has been running for an hour"
  sleep 10
  waited=$((waited + 10))
done
say "Grafana: $G/build.sh $CACHE"
BUILD_OUT=$(mktemp)
if ! "$G/build.sh" "$CACHE" 2>&1 | tee "$BUILD_OUT" >&2; then
  why=$(grep -v '^[[:space:]]*$' "$BUILD_OUT" | tail -n 3 | tr '\n' ' ')
  rm -f "$BUILD_OUT"
  grafana_unavailable "$G/build.sh $CACHE failed (logs in $CACHE/logs/): $why"
fi
rm -f "$BUILD_OUT"

# ---- tools: Debian's chromium, playwright-core ---------------------------------------
[ -x "$KWINDOW" ] || die "$KWINDOW missing: make build"
[ -f "$PLUGIN_DIST/plugin.json" ] && ls "$PLUGIN_DIST"/gpx_kwindow_linux_amd64 >/dev/null 2>&1 ||
  die "$PLUGIN_DIST has no plugin.json or gpx_kwindow_linux_amd64: make plugin"
for bin in prometheus kcat node npm curl; do
  command -v "$bin" >/dev/null || die "$bin missing (make deps installs prometheus and kcat)"
done
if ! [ -x "$CHROMIUM" ]; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  say "installing Debian's chromium (apt-get, 1-2 min)"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] || die "apt-get did not provide $CHROMIUM"
fi
(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in grafana-plugin/e2e"

# ---- processes, all stopped on exit ---------------------------------------------------
W=$(mktemp -d "${TMPDIR:-/tmp}/kwindow-e2e-grafana.XXXXXX")
mkdir -p "$W/logs"
rm -rf "$OUT"
mkdir -p "$OUT"
PIDS=()
GRAFANA_RUN_DIR=
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$GRAFANA_RUN_DIR" ]; then
    cp "$GRAFANA_RUN_DIR/logs/grafana.log" "$W/logs/grafana.log" 2>/dev/null || true
    "$G/stop.sh" "$GRAFANA_RUN_DIR" 2>/dev/null || true
  fi
  # In reverse order of start: the load generator first, the broker last.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cp -r "$W/logs" "$OUT/" 2>/dev/null || true
  rm -rf "$W"
  if [ "$rc" = 0 ]; then say "PASS (screenshots and logs in $OUT)"; else say "FAILED, exit $rc (logs in $OUT/logs)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# wait_for WHAT SECONDS PID COMMAND...: until COMMAND succeeds; fails if PID exits.
wait_for() {
  local what=$1 secs=$2 pid=$3
  shift 3
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "$what exited (log: $OUT/logs)"
    ((SECONDS < deadline)) || die "$what not ready within ${secs}s"
    sleep 0.2
  done
}

BROKER=127.0.0.1:$(free_port)
for i in 0 1; do
  eval "API_$i=http://127.0.0.1:$(free_port)"
  api=API_$i
  sed -e "s|@BROKER@|$BROKER|; s|@INSTANCE@|kw-$i|; s|@STATE_DIR@|$W/state-$i|; s|@API_URL@|${!api}|" \
    "$HERE/kwindow.yml" >"$W/kwindow-$i.yml"
done

say "broker on $BROKER"
"$KWINDOW" broker --config.file="$W/kwindow-0.yml" --listen-address="$BROKER" --partitions=6 \
  --topic=requests >"$W/logs/broker.log" 2>&1 &
PIDS+=($!)
wait_for broker 30 "$!" port_open "${BROKER#*:}"

for i in 0 1; do
  api=API_$i
  say "kwindow kw-$i: ${!api}"
  "$KWINDOW" run --config.file="$W/kwindow-$i.yml" --web.listen-address="${!api#http://}" \
    >"$W/logs/kwindow-$i.log" 2>&1 &
  PIDS+=($!)
done
# Both members of the group, every partition owned and restored.
group_ready() {
  curl -fsS --max-time 2 "$API_0/api/v1/status" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const d = JSON.parse(s).data;
      const owned = d.members.reduce((n, m) => n + m.partitions.length, 0);
      process.exit(d.ready && d.members.length === 2 && owned === d.partitions ? 0 : 1);
    });'
}
wait_for "the kwindow group (kw-0, kw-1)" 60 "${PIDS[1]}" group_ready
curl -fsS --max-time 2 "$API_1/readyz" >/dev/null || die "kw-1 is not ready"

PROM=127.0.0.1:$(free_port)
# The repository's alert rules, each `for` scaled from minutes to seconds as the windows
# are (exporter/e2e_test.go does the same), so that the Overview's alert panels show
# what the spike fires.
sed -E 's/^([[:space:]]*for: )([0-9]+)m[[:space:]]*$/\1\2s/' "$ROOT/alerts/kwindow.rules.yml" >"$W/kwindow.rules.yml"
grep -qE '^[[:space:]]*for: [0-9]+m' "$W/kwindow.rules.yml" && die "alerts/kwindow.rules.yml: a 'for' left unscaled"
cat >"$W/prometheus.yml" <<EOF
global: {scrape_interval: 2s, evaluation_interval: 2s}
rule_files: ["$W/kwindow.rules.yml"]
scrape_configs:
  - job_name: kwindow
    static_configs: [{targets: ["${API_0#http://}", "${API_1#http://}"]}]
EOF
say "prometheus on $PROM (native histograms)"
prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/prometheus" \
  --web.listen-address="$PROM" --enable-feature=native-histograms >"$W/logs/prometheus.log" 2>&1 &
PIDS+=($!)
wait_for prometheus 30 "$!" curl -fsS --max-time 2 "http://$PROM/-/ready"

LOADGEN_START_MS=$(date +%s%3N)
say "load generator: $RATE events/s, /api/checkout 5xx ratio $SPIKE_RATE from +${SPIKE_AT}s for ${SPIKE_FOR}s"
"$KWINDOW" loadgen --config.file="$W/kwindow-0.yml" --brokers="$BROKER" --rate="$RATE" \
  --incident="error_spike:/api/checkout:${SPIKE_AT}s:${SPIKE_FOR}s:$SPIKE_RATE" >"$W/logs/loadgen.log" 2>&1 &
PIDS+=($!)

# Grafana: the repository's provisioning (data sources, dashboards) plus the alerting
# overlay; the provisioning files read these variables.
PROV=$W/provisioning
mkdir -p "$PROV"
for sub in datasources dashboards plugins notifiers; do
  ln -s "$ROOT/dashboards/provisioning/$sub" "$PROV/$sub"
done
ln -s "$HERE/provisioning/alerting" "$PROV/alerting"
WEBHOOK_PORT=$(free_port)
export PROMETHEUS_URL=http://$PROM KWINDOW_URL_0=$API_0 KWINDOW_URL_1=$API_1
export E2E_WEBHOOK_URL=http://127.0.0.1:$WEBHOOK_PORT/alert
GPORT=
for p in $(seq 3313 3320); do port_open "$p" || { GPORT=$p; break; }; done
[ -n "$GPORT" ] || die "ports 3313-3320 are all taken"
say "grafana on 127.0.0.1:$GPORT"
started=$("$G/run.sh" "$CACHE" "$GPORT" "$PLUGIN_DIST" "$PROV") || die "$G/run.sh could not start Grafana"
eval "$started"
say "grafana $GRAFANA_URL (run dir $GRAFANA_RUN_DIR)"

# ---- the checks -----------------------------------------------------------------------
if [ "${E2E_HOLD:-0}" = 1 ]; then
  # Keep the stack up to look at it (Ctrl-C stops everything); no check runs.
  cat >"$OUT/env.sh" <<EOF
export GRAFANA_URL=$GRAFANA_URL GRAFANA_LOG=$GRAFANA_LOG OUT=$OUT CHROMIUM=$CHROMIUM WEBHOOK_PORT=$WEBHOOK_PORT
export BROKER=$BROKER RATE=$RATE LOADGEN_START_MS=$LOADGEN_START_MS LOADGEN_LOG=$W/logs/loadgen.log
export SPIKE_START_MS=$((LOADGEN_START_MS + SPIKE_AT * 1000)) SPIKE_END_MS=$((LOADGEN_START_MS + (SPIKE_AT + SPIKE_FOR) * 1000))
export DASHBOARDS=$ROOT/dashboards/provisioning/dashboards KWINDOW_URL_0=$API_0 KWINDOW_URL_1=$API_1 PROMETHEUS_URL=$PROMETHEUS_URL
EOF
  say "E2E_HOLD=1: the stack stays up (environment in $OUT/env.sh); Ctrl-C stops it"
  trap 'exit 0' INT TERM
  while kill -0 "${PIDS[0]}" 2>/dev/null; do sleep 1; done
  die "the broker exited"
fi
GRAFANA_URL=$GRAFANA_URL GRAFANA_LOG=$GRAFANA_LOG OUT=$OUT CHROMIUM=$CHROMIUM \
  WEBHOOK_PORT=$WEBHOOK_PORT BROKER=$BROKER RATE=$RATE LOADGEN_START_MS=$LOADGEN_START_MS \
  LOADGEN_LOG=$W/logs/loadgen.log SPIKE_START_MS=$((LOADGEN_START_MS + SPIKE_AT * 1000)) \
  SPIKE_END_MS=$((LOADGEN_START_MS + (SPIKE_AT + SPIKE_FOR) * 1000)) DASHBOARDS=$ROOT/dashboards/provisioning/dashboards \
  node "$HERE/check.mjs"
