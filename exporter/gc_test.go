package main

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/web"
)

// TestGCPercent: run sets the garbage collector's target to
// memory.gc_percent, unless GOGC is set.
func TestGCPercent(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	t.Setenv("GOGC", "") // restored after the test
	os.Unsetenv("GOGC")

	cfg := config.Default()
	if cfg.Memory.GCPercent != config.DefaultGCPercent {
		t.Fatalf("default memory.gc_percent %d, want %d", cfg.Memory.GCPercent, config.DefaultGCPercent)
	}
	cfg.Memory.GCPercent = 37
	startRun(t, cfg) // the target is set before the web server starts
	if got := debug.SetGCPercent(100); got != 37 {
		t.Errorf("running with memory.gc_percent 37: GOGC %d", got)
	}

	t.Setenv("GOGC", "80")
	if setGCPercent(cfg) {
		t.Errorf("GOGC=80 set: memory.gc_percent applied over it")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=80 set: the target changed to %d", got)
	}
}

// TestMemoryLimit: run sets the Go runtime's soft memory limit to
// memory.limit, sets none for 0 (the default), and leaves GOMEMLIMIT's alone.
func TestMemoryLimit(t *testing.T) {
	const none = math.MaxInt64 // the runtime's "no limit"
	before := debug.SetMemoryLimit(none)
	defer debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "") // restored after the test
	os.Unsetenv("GOMEMLIMIT")

	cfg := config.Default()
	if cfg.Memory.Limit != 0 {
		t.Fatalf("default memory.limit %d, want 0", cfg.Memory.Limit)
	}
	if setMemoryLimit(cfg) {
		t.Errorf("memory.limit 0: a limit was set")
	}
	if got := debug.SetMemoryLimit(-1); got != none {
		t.Errorf("memory.limit 0: limit %d, want none", got)
	}

	cfg.Memory.Limit = 80 << 20
	startRun(t, cfg) // the limit is set before the web server starts
	if got := debug.SetMemoryLimit(-1); got != 80<<20 {
		t.Errorf("running with memory.limit 80 MiB: limit %d", got)
	}

	debug.SetMemoryLimit(none)
	t.Setenv("GOMEMLIMIT", "100MiB")
	if setMemoryLimit(cfg) {
		t.Errorf("GOMEMLIMIT set: memory.limit applied over it")
	}
	if got := debug.SetMemoryLimit(-1); got != none {
		t.Errorf("GOMEMLIMIT set: the limit changed to %d", got)
	}
}

// startRun runs the exporter (serveStream) with cfg against a broker address
// where nothing listens, until its /healthz answers; the test's cleanup stops
// it.
func startRun(t *testing.T, cfg *config.Config) {
	t.Helper()
	cfg.Kafka.Brokers = []string{testtool.FreeAddr(t)} // nothing listens there
	cfg.State.Dir = t.TempDir()
	addr := testtool.FreeAddr(t)
	g := &globals{
		web: &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		log: slog.New(slog.NewTextHandler(&testtool.Buffer{}, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStream(ctx, cfg, g, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kwindow: %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz not answering 30s after start")
		}
	}
}
