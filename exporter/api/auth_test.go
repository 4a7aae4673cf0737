package api

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

// TestUnauthorized: without an accepted token every route, internal and
// unknown ones included, answers the same 401: the same body and header for
// a missing, malformed or wrong token, none of it echoed.
func TestUnauthorized(t *testing.T) {
	internal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("peer")) })
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}),
		Options{Auth: StaticTokens{"s3cret-token-one", "token-two"}, Internal: internal})
	var first []byte
	for _, path := range []string{"status", "query_range?aggregation=req_1m", "openapi.json", "internal/range", "nope"} {
		for _, hdr := range [][]string{
			nil,
			{"Authorization", ""},
			{"Authorization", "Bearer"},
			{"Authorization", "Bearer "},
			{"Authorization", "Bearer s3cret-token-on"},
			{"Authorization", "Bearer s3cret-token-one2"},
			{"Authorization", "Basic czNjcmV0LXRva2VuLW9uZQ=="},
			{"Authorization", "s3cret-token-one"},
			{"Authorization", "Bearer wrong-token-xyz"},
		} {
			code, h, body := s.get(t, Prefix+path, hdr...)
			if code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != `Bearer realm="kwindow"` {
				t.Errorf("%s %v: %d WWW-Authenticate %q", path, hdr, code, h.Get("WWW-Authenticate"))
			}
			if first == nil {
				first = body
			}
			if !bytes.Equal(body, first) {
				t.Errorf("%s %v: body %s differs from %s", path, hdr, body, first)
			}
			if bytes.Contains(body, []byte("token-")) || bytes.Contains(body, []byte("wrong")) {
				t.Errorf("%s %v: the body echoes a token: %s", path, hdr, body)
			}
		}
	}
	if e := errorOf(t, first); e.Code != client.CodeUnauthorized {
		t.Errorf("code %q", e.Code)
	}
	for _, tok := range []string{"Bearer s3cret-token-one", "bearer token-two", "BEARER  token-two "} {
		if code, _, body := s.get(t, Prefix+"status", "Authorization", tok); code != http.StatusOK {
			t.Errorf("%q: %d %s", tok, code, body)
		}
	}
	if code, _, body := s.get(t, Prefix+"internal/range", "Authorization", "Bearer token-two"); code != http.StatusOK || string(body) != "peer" {
		t.Errorf("internal route with a token: %d %s", code, body)
	}
}

// TestTokenFile: tokens one per line, comments and blank lines ignored; a
// changed file is read again at most once a second; a file that disappears
// leaves the tokens as they were; a missing or empty file refuses to start.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewTokenFile(path, nil); err == nil {
		t.Error("a missing file was accepted")
	}
	write("# only comments\n\n   \n")
	if _, err := NewTokenFile(path, nil); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("a file without tokens: %v", err)
	}
	write("# grafana\nalpha-token\n\n  beta-token  \n#gamma-token\n")
	f, err := NewTokenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	f.checked = now
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}), Options{Auth: f})
	status := func(tok string) int {
		code, _, _ := s.get(t, Prefix+"status", "Authorization", "Bearer "+tok)
		return code
	}
	expect := func(when string, want map[string]int) {
		t.Helper()
		for tok, code := range want {
			if got := status(tok); got != code {
				t.Errorf("%s: token %q: %d, want %d", when, tok, got, code)
			}
		}
	}
	expect("first read", map[string]int{"alpha-token": 200, "beta-token": 200, "gamma-token": 401, "# grafana": 401})
	if f.First() != "alpha-token" {
		t.Errorf("First() = %q", f.First())
	}

	write("gamma-token\n") // replaces both
	now = now.Add(999 * time.Millisecond)
	expect("within a second of the last check", map[string]int{"alpha-token": 200, "gamma-token": 401})
	now = now.Add(time.Millisecond)
	expect("a second later", map[string]int{"alpha-token": 401, "beta-token": 401, "gamma-token": 200})

	// The same size and inode, rewritten: only the modification time says so.
	write("delta-token\n")
	os.Chtimes(path, now, now.Add(time.Hour))
	now = now.Add(time.Second)
	expect("same size, new content", map[string]int{"gamma-token": 401, "delta-token": 200})

	os.Remove(path)
	now = now.Add(time.Second)
	expect("file removed", map[string]int{"delta-token": 200})

	write("# all revoked\n")
	now = now.Add(time.Second)
	expect("every token revoked", map[string]int{"delta-token": 401, "": 401})
}

// TestAccepts: the comparison itself.
func TestAccepts(t *testing.T) {
	tokens := []string{"a", "bb", strings.Repeat("c", 4096)}
	for tok, want := range map[string]bool{"a": true, "bb": true, strings.Repeat("c", 4096): true,
		"": false, "b": false, "aa": false, strings.Repeat("c", 4095): false, "A": false} {
		if got := accepts(tokens, tok); got != want {
			t.Errorf("accepts(%.10q) = %v, want %v", tok, got, want)
		}
	}
	if accepts(nil, "") || accepts([]string{""}, "") {
		t.Error("the empty token was accepted")
	}
}
