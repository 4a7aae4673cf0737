package main

import (
	"context"
	"log/slog"
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
	cfg.Kafka.Brokers = []string{freeListenAddr(t)} // nothing listens there
	cfg.State.Dir = t.TempDir()
	addr := freeListenAddr(t)
	g := &globals{
		web: &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		log: slog.New(slog.NewTextHandler(&testtool.Buffer{}, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStream(ctx, cfg, g, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("kwindow: %v", err)
		}
	}()
	// The target is set before the web server starts.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/healthz not answering 30s after start")
		}
	}
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
