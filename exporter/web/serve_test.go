package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/kwindow/kwindow/exporter/web"
)

// parseFlags returns the flags AddFlags registers, parsed from args.
func parseFlags(t *testing.T, args ...string) *web.FlagConfig {
	t.Helper()
	app := kingpin.New("kwindow", "")
	flags := web.AddFlags(app)
	if _, err := app.Parse(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return flags
}

func TestAddFlagsDefaults(t *testing.T) {
	flags := parseFlags(t)
	if got := *flags.WebListenAddresses; len(got) != 1 || got[0] != ":9897" {
		t.Errorf("--web.listen-address defaults to %q, want [:9897]", got)
	}
	if *flags.WebConfigFile != "" || *flags.WebSystemdSocket {
		t.Errorf("--web.config.file = %q, --web.systemd-socket = %v; want empty, false",
			*flags.WebConfigFile, *flags.WebSystemdSocket)
	}
}

// listenLog is a slog.Handler that passes on the address of exporter-toolkit's
// "Listening on" record: with --web.listen-address=127.0.0.1:0 only the log tells
// which port the kernel chose.
type listenLog struct{ addr chan string }

func (l listenLog) Enabled(context.Context, slog.Level) bool { return true }
func (l listenLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l listenLog) WithGroup(string) slog.Handler            { return l }
func (l listenLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "Listening on" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "address" {
			select {
			case l.addr <- a.Value.String():
			default:
			}
		}
		return true
	})
	return nil
}

// startServe runs web.Serve in the background and returns the base URL it listens
// on, a function that cancels its context, and the channel its result arrives on.
func startServe(t *testing.T, flags *web.FlagConfig, h http.Handler) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := listenLog{addr: make(chan string, 1)}
	done := make(chan error, 1)    // for the test
	stopped := make(chan struct{}) // for the cleanup, which must not take the result
	go func() {
		done <- web.Serve(ctx, flags, h, slog.New(log))
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	select {
	case addr := <-log.addr:
		return "http://" + addr, cancel, done
	case err := <-done:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal(`no "Listening on" log from exporter-toolkit within 5s`)
	}
	return "", nil, nil
}

// waitServe waits for Serve's result, for at most within.
func waitServe(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Serve did not return within %v", within)
		return nil
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

func TestServeBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(config, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := parseFlags(t, "--web.listen-address=127.0.0.1:0", "--web.config.file="+config)
	url, cancel, done := startServe(t, flags, web.NewHandler(web.Options{Registry: metricsRegistry(t)}))

	tests := []struct {
		name           string
		path           string
		user, password string
		want           int
	}{
		{"metrics without credentials", "/metrics", "", "", http.StatusUnauthorized},
		{"metrics with a wrong password", "/metrics", "prometheus", "wrong", http.StatusUnauthorized},
		{"metrics with an unknown user", "/metrics", "grafana", "s3cret", http.StatusUnauthorized},
		{"metrics with credentials", "/metrics", "prometheus", "s3cret", http.StatusOK},
		// Authentication covers every route: a probe has to send the credentials too.
		{"healthz without credentials", "/healthz", "", "", http.StatusUnauthorized},
		{"healthz with credentials", "/healthz", "prometheus", "s3cret", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, url+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.password)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s = %d %q, want %d", tt.path, resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without a WWW-Authenticate header")
			}
			if tt.path == "/metrics" && tt.want == http.StatusOK && !strings.Contains(string(body), "kwindow_test_events_total 3") {
				t.Errorf("authenticated /metrics lacks kwindow_test_events_total 3:\n%s", body)
			}
		})
	}

	cancel()
	if err := waitServe(t, done, 5*time.Second); err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if _, err := client.Get(url + "/healthz"); err == nil {
		t.Error("server still answers after Serve returned")
	}
}

// TestServeShutdownEndsStreams checks that a response that lasts until its request's
// context ends (the live stream) does not hold shutdown up for shutdownTimeout.
func TestServeShutdownEndsStreams(t *testing.T) {
	streaming := make(chan struct{})
	stream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(streaming)
		<-r.Context().Done()
	})
	flags := parseFlags(t, "--web.listen-address=127.0.0.1:0")
	url, cancel, done := startServe(t, flags, web.NewHandler(web.Options{
		Handlers: map[string]http.Handler{"/api/v1/stream": stream},
	}))

	resp, err := client.Get(url + "/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-streaming

	start := time.Now()
	cancel()
	if err := waitServe(t, done, 4*time.Second); err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("shutdown with an open stream took %v, want well under a second", took)
	}
}

func TestServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	badConfig := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(badConfig, []byte("basic_auth_user:\n  prometheus: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noAddress := false

	tests := []struct {
		name    string
		flags   *web.FlagConfig
		wantErr string
		wantIs  error
	}{
		{"nil flags", nil, "", toolkitweb.ErrNoListeners},
		{"no address", &web.FlagConfig{WebListenAddresses: &[]string{}, WebSystemdSocket: &noAddress}, "", toolkitweb.ErrNoListeners},
		{"address in use", parseFlags(t, "--web.listen-address="+busy.Addr().String()), "address already in use", nil},
		{"unknown field in the web config file", parseFlags(t, "--web.listen-address=127.0.0.1:0", "--web.config.file="+badConfig), "--web.config.file=" + badConfig, nil},
		{"missing web config file", parseFlags(t, "--web.listen-address=127.0.0.1:0", "--web.config.file=/nonexistent/web.yml"), "--web.config.file=/nonexistent/web.yml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Serve must fail on its own, before this context would end it.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- web.Serve(ctx, tt.flags, http.NotFoundHandler(), nil) }()
			err := waitServe(t, done, 5*time.Second)
			switch {
			case err == nil:
				t.Fatal("Serve = nil, want an error")
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Errorf("Serve = %v, want %v", err, tt.wantIs)
			case !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("Serve = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}
