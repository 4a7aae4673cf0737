package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/web"
)

// TestServesBeforeKafkaAnswers: a broker that accepts connections but never
// answers. The web server answers from the first second (/healthz 200, /readyz
// 503 saying why), and a warning names what fails within the first attempt's
// timeout. Before, kwindow said nothing and served nothing for 40 s, then exited.
func TestServesBeforeKafkaAnswers(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() { // accept and hold every connection, answer nothing
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	cfg := config.Default()
	cfg.Kafka.Brokers = []string{silent.Addr().String()}
	cfg.State.Dir = t.TempDir()
	addr := testtool.FreeAddr(t)
	logs := &testtool.Buffer{}
	g := &globals{
		web: &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStream(ctx, cfg, g, nil) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kwindow: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("kwindow did not stop within 30s")
		}
	}()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		code, _ := get("/healthz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not answering 2s after start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "Kafka") {
		t.Errorf("/readyz = %d %q, want 503 naming Kafka", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "kwindow_kafka_up 0") {
		t.Errorf("/metrics = %d, kwindow_kafka_up 0 missing", code)
	}
	// The live page is served from the start too: / redirects to it (followed here).
	if code, body := get("/"); code != 200 || !strings.Contains(body, `<select id="agg"`) {
		t.Errorf("/ = %d, not the live page:\n%.300s", code, body)
	}
	// The first attempt gives up after 15 s and says so, with the broker's address.
	for deadline := time.Now().Add(25 * time.Second); !strings.Contains(logs.String(), "level=WARN"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning within 25s; log:\n%s", logs.String())
		}
	}
	if l := logs.String(); !strings.Contains(l, silent.Addr().String()) {
		t.Errorf("the warnings do not name the broker:\n%s", l)
	}
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "Kafka") {
		t.Errorf("/readyz = %d %q after the first failed attempt, want 503 naming Kafka", code, body)
	}
}
