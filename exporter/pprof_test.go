package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// TestPprofListener: --debug.pprof-address serves Go's heap profile on a
// loopback address, and refuses an address anyone else could reach, since the
// profiles have no authentication.
func TestPprofListener(t *testing.T) {
	f := func(addr string, wantErr string) {
		t.Helper()
		srv, err := servePprof(addr)
		if wantErr != "" {
			if err == nil {
				srv.Close()
				t.Fatalf("%s: served, want an error with %q", addr, wantErr)
			}
			if !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("%s: error %q, want one with %q", addr, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		defer srv.Close()
	}
	f("0.0.0.0:0", "not a loopback address")
	f(":0", "not a loopback address")
	f("192.0.2.1:0", "not a loopback address")
	f("example.com:0", "not a loopback address")
	f("127.0.0.1", "missing port")

	addr := testtool.FreeAddr(t)
	srv, err := servePprof(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile:") {
		t.Fatalf("heap profile: status %d, body starts %.80q", resp.StatusCode, body)
	}
	if _, err := servePprof(addr); err == nil {
		t.Fatalf("a second listener on %s: no error", addr)
	}
}
