# kwindow — `make run` and `make test` work on a fresh Debian machine with Go, Node and
# make: they install what is missing first (Debian packages through apt-get).

GO        ?= go
# bash, for pipefail: `make bench` pipes go test into tee and must fail when it fails.
SHELL     := /bin/bash
BIN       := bin/kwindow
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the build and the tests need: the C and C++ compilers cgo uses, and
# RocksDB 7.8.3 with its compression libraries (grocksdb v1.7.14 links against it and
# libstdc++ through cgo); kcat, a third-party Kafka client the broker tests talk to the
# embedded broker with; Prometheus and Alertmanager (promtool and amtool check and
# unit-test the alert rules; promtool lints a scrape; the end-to-end test runs
# prometheus and prometheus-alertmanager on 127.0.0.1); Chromium, in which make ui-e2e
# drives the live page (playwright-core cannot download a browser here), and openssl,
# which makes its TLS certificate. On a host with systemd,
# installing prometheus and prometheus-alertmanager starts their services: `systemctl disable --now prometheus
# prometheus-alertmanager` if unwanted.
DEB_PKGS  := gcc g++ librocksdb-dev libsnappy-dev libzstd-dev liblz4-dev libbz2-dev zlib1g-dev kcat zip \
             prometheus prometheus-alertmanager chromium openssl
# Tests that need a program of DEB_PKGS (kcat, promtool, prometheus,
# prometheus-alertmanager) skip when it is missing, but fail under this variable:
# make test is complete or fails (exporter/internal/testtool).
REQUIRE_TOOLS := KWINDOW_REQUIRE_TOOLS=1
PROMTOOL  ?= promtool
AMTOOL    ?= amtool
AM_CFG    := alerts/alertmanager.yml
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -X main.version=$(VERSION) -X main.revision=$(REVISION)
# FUZZTIME, when set, overrides every fuzz target's budget (e.g. 60s or 1000000x). By
# default each target runs a count of inputs (about 8 s on a 2-core machine): a count,
# not a duration, because Go 1.26's fuzz coordinator can fail a duration-bounded run with
# a spurious "context deadline exceeded" at the deadline (go.dev/issue/75804, fixed in
# Go 1.27).
FUZZTIME  ?=
fuzz-one   = $(GO) test -run='^$$' -fuzz='^$(1)$$' -fuzztime=$(or $(FUZZTIME),$(3)) ./$(2)/
BENCHTIME ?= 1s

.PHONY: all deps build run test vet unit fuzz check-alerts bench soak clean help plugin plugin-backend plugin-frontend plugin-check e2e-grafana plugin-validate bench-peers ui ui-check ui-e2e

all: build

help:
	@echo "make run    install what is missing, build, and run the demo (embedded load generator)"
	@echo "make test   install what is missing, then go vet, the alert checks, short fuzz runs, go test,"
	@echo "            and the plugin's and the live page's front-end tests (ui-e2e in headless Chromium)"
	@echo "make bench  run the benchmarks and print a summary"
	@echo "make soak   broker, load generator and exporter for an hour; memory samples in soak.csv"
	@echo "make e2e-grafana  the Grafana plugin and dashboards in a real Grafana and headless Chromium"
	@echo "make plugin-validate  Grafana's plugin validator (v0.39.3, offline) on the plugin's zip and sources"
	@echo "make bench-peers  kwindow's engine against vmagent's stream aggregation, per CPU-second"
	@echo "make ui     rebuild the live page's bundle (exporter/ui/dist, committed) with npm"
	@echo "make ui-check  the live page's typecheck and unit tests, and that dist matches a fresh build"
	@echo "make ui-e2e the live page in headless Chromium against the running demo"

# deps installs the Debian packages that are missing, non-interactively, and only then.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./exporter

run: build
	./$(BIN) demo $(ARGS)

vet: deps
	$(GO) vet ./...

unit: deps
	$(REQUIRE_TOOLS) $(GO) test ./...

fuzz: deps
	$(call fuzz-one,FuzzDecode,exporter/event,80000x)
	$(call fuzz-one,FuzzUnmarshal,exporter/sketch,150000x)
	$(call fuzz-one,FuzzMergeBinary,exporter/sketch,40000x)
	$(call fuzz-one,FuzzParseKey,exporter/store,100000x)
	$(call fuzz-one,FuzzDecompressLZ4,exporter/kafka,3000x)
	$(call fuzz-one,FuzzValue,exporter/aggregate,150000x)
	$(call fuzz-one,FuzzParse,exporter/config,10000x)
	$(call fuzz-one,FuzzQueryRange,exporter/api,25000x)
	$(call fuzz-one,FuzzLatest,exporter/api,25000x)
	$(call fuzz-one,FuzzTopK,exporter/api,25000x)
	$(call fuzz-one,FuzzValues,exporter/api,25000x)
	$(call fuzz-one,FuzzStream,exporter/api,25000x)
	$(call fuzz-one,FuzzParseMatchers,exporter/api/client,60000x)

# check-alerts validates the rules and runs their promtool unit tests, validates the
# Alertmanager configuration and its routing, and prometheus.yml.
check-alerts: deps
	$(PROMTOOL) check rules alerts/kwindow.rules.yml
	$(PROMTOOL) test rules alerts/tests/*.yml
	$(AMTOOL) check-config $(AM_CFG)
	$(AMTOOL) config routes test --config.file=$(AM_CFG) --verify.receivers=pager severity=critical
	$(AMTOOL) config routes test --config.file=$(AM_CFG) --verify.receivers=team severity=warning
	$(AMTOOL) config routes test --config.file=$(AM_CFG) --verify.receivers=low-priority severity=info
	$(PROMTOOL) check config prometheus.yml

test: vet check-alerts fuzz unit plugin-check ui-check ui-e2e

# bench runs the micro-benchmarks of every package but stream, then stream's
# end-to-end benchmarks (embedded broker, one long run each, a few minutes in all).
bench: deps
	@set -o pipefail; $(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) $$($(GO) list ./exporter/... | grep -v '/exporter/stream$$') | tee bench.out
	@set -o pipefail; $(GO) test -run='^$$' -bench='EndToEnd|ConsumeOnly|Restore|Freshness|RestartAfterKill' -benchtime=1x -timeout=30m ./exporter/stream/ | tee -a bench.out
	@echo; echo "== summary"; grep -E '^Benchmark' bench.out | awk '{ line=$$1; for (i=2;i<=NF;i++) if ($$i ~ /(ns\/op|events\/s|windows\/s|records\/s|MB\/s|allocs\/op|_ms|_MiB|_s|µs|ratio_of_consume_only)$$/ || $$(i+1) ~ /(ns\/op|events\/s|windows\/s|records\/s|MB\/s|allocs\/op|_ms|_MiB|_s|µs|ratio_of_consume_only)$$/) line=line" "$$i; print line }'

# bench-peers measures kwindow's engine (BenchmarkPeers) and VictoriaMetrics vmagent
# v1.132.0's stream aggregation doing the same work per key at 400 and 10,000 keys,
# taking turns, per CPU-second, and prints the ratios (.ci/bench-peers; ROUNDS, KEYS,
# EVENTS, SAMPLES). It builds vmagent through the Go module proxy into
# ~/.cache/kwindow-peers the first time (minutes). Not part of make test.
bench-peers: deps
	GO='$(GO)' .ci/bench-peers

# soak runs the broker, the load generator and the exporter as separate processes for
# DURATION (60m) at RATE (40000) events/s and samples their memory into soak.csv.
DURATION  ?= 60m
RATE      ?= 40000
soak: build
	DURATION=$(DURATION) RATE=$(RATE) .ci/soak

# plugin builds the Grafana data source: its backend (Go, no cgo) and its front end
# (npm, Grafana's plugin tooling) into grafana-plugin/dist, and a zip of it.
PLUGIN_DIR := grafana-plugin
plugin: deps plugin-backend plugin-frontend
	cd $(PLUGIN_DIR) && rm -f kwindow-kwindow-datasource.zip && \
	  rm -rf .zip && mkdir -p .zip && cp -r dist .zip/kwindow-kwindow-datasource && \
	  cd .zip && zip -qr ../kwindow-kwindow-datasource.zip kwindow-kwindow-datasource && cd .. && rm -rf .zip
plugin-backend:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -ldflags '$(LDFLAGS)' -o $(PLUGIN_DIR)/dist/gpx_kwindow_linux_amd64 ./$(PLUGIN_DIR)/pkg
plugin-frontend:
	cd $(PLUGIN_DIR) && npm ci --no-audit --no-fund && npm run build
# plugin-check: the front end's typecheck, lint and unit tests.
plugin-check:
	cd $(PLUGIN_DIR) && npm ci --no-audit --no-fund && npm run typecheck && npm run lint && npm run test:ci

# e2e-grafana runs the plugin in a real Grafana 10.0 with the dashboards provisioned and
# checks it through Grafana's API and in headless Chromium (grafana-plugin/e2e/run.sh: health,
# rate and P99 through /api/ds/query, every dashboard's panels, a Live panel, a
# Grafana-managed alert to a webhook); screenshots in grafana-plugin/e2e/out. Grafana is built by
# GRAFANA_SHARED's build.sh (cached in GRAFANA_CACHE; about 12 minutes the first time).
# When it cannot be built the target fails with the reason, unless GRAFANA_UNAVAILABLE=1.
GRAFANA_SHARED ?= ../shared/grafana
GRAFANA_CACHE  ?= $(HOME)/.cache/kwindow-grafana
# plugin-validate: Grafana's plugin validator (v0.39.3, built once in a scratch module,
# run offline) on the zip and the plugin's source code (grafana-plugin/validate.sh);
# it fails on any finding but the three it lists as accepted (unsigned, Makefile build,
# no LICENSE file yet).
plugin-validate: plugin
	$(PLUGIN_DIR)/validate.sh
e2e-grafana: build plugin plugin-validate
	GRAFANA_SHARED='$(GRAFANA_SHARED)' GRAFANA_CACHE='$(GRAFANA_CACHE)' \
	  GRAFANA_UNAVAILABLE='$(GRAFANA_UNAVAILABLE)' KWINDOW='$(CURDIR)/$(BIN)' grafana-plugin/e2e/run.sh

# The live page (exporter/ui): its front end (TypeScript, uPlot, Vite) is built into
# exporter/ui/dist, which is committed and embedded in the binary (go:embed), so that
# go build and go install need no Node. make ui rebuilds it after a change under
# exporter/ui/web; ui-check fails when the committed bundle is not what a fresh build of
# the sources (with the locked packages) gives, byte for byte.
UI_DIR := exporter/ui
ui:
	cd $(UI_DIR)/web && npm ci --no-audit --no-fund && npm run build
ui-check:
	cd $(UI_DIR)/web && npm ci --no-audit --no-fund && npm run typecheck && npm test
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd $(UI_DIR)/web && npx vite build --outDir "$$tmp" --emptyOutDir --logLevel warn) && \
	  if diff -r "$$tmp" $(UI_DIR)/dist; then echo "$(UI_DIR)/dist matches a fresh build"; \
	  else echo "$(UI_DIR)/dist differs from a fresh build of $(UI_DIR)/web: run make ui and commit $(UI_DIR)/dist"; exit 1; fi
# ui-e2e starts the demo on free loopback ports and checks the live page in headless
# Chromium (exporter/ui/e2e/run.mjs: no console errors, load time, the aggregations, a
# window update drawn within 2 s of its commit, the rate within 5 % of the load
# generator's, the bearer-token flow); screenshots and logs in exporter/ui/e2e/out. A
# missing Chromium fails it.
ui-e2e: build
	cd $(UI_DIR)/e2e && npm ci --no-audit --no-fund && KWINDOW='$(CURDIR)/$(BIN)' node run.mjs

clean:
	rm -rf bin bench.out soak.csv $(UI_DIR)/e2e/out $(PLUGIN_DIR)/dist $(PLUGIN_DIR)/kwindow-kwindow-datasource.zip
