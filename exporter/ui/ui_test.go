package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/ui"
)

func get(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	ui.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestRedirects(t *testing.T) {
	for _, path := range []string{"/", "/ui"} {
		resp, _ := get(t, http.MethodGet, path)
		// Relative, so that a reverse proxy's path prefix is kept.
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "ui/" {
			t.Errorf("GET %s = %d Location %q, want 302 ui/", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestPageAndAssets(t *testing.T) {
	resp, body := get(t, http.MethodGet, "/ui/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/ = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("index Cache-Control = %q, want no-cache (it names the current bundle)", cc)
	}
	for _, want := range []string{`<select id="agg"`, `href="../metrics"`, `href="../readyz"`, `href="../api/v1/openapi.json"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	assets := regexp.MustCompile(`(?:src|href)="\./(assets/[^"]+)"`).FindAllStringSubmatch(body, -1)
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	kinds := map[string]bool{}
	for _, m := range assets {
		resp, b := get(t, http.MethodGet, "/ui/"+m[1])
		ext := m[1][strings.LastIndex(m[1], "."):]
		kinds[ext] = true
		if resp.StatusCode != http.StatusOK || len(b) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), types[ext]) {
			t.Errorf("GET /ui/%s = %d %s, %d bytes", m[1], resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("asset Cache-Control = %q, want immutable (names carry a content hash)", cc)
		}
	}
	if !kinds[".js"] || !kinds[".css"] {
		t.Errorf("index.html references %q, want a script and a style sheet", assets)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	for _, path := range []string{"/ui/nope.js", "/ui/assets/", "/ui/assets/missing.js", "/elsewhere", "/ui/../go.mod"} {
		if resp, _ := get(t, http.MethodGet, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
	resp, _ := get(t, http.MethodPost, "/ui/")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/ = %d Allow %q, want 405 GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	if resp, _ := get(t, http.MethodHead, "/ui/"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /ui/ = %d, want 200", resp.StatusCode)
	}
}

// TestAnomalyThreshold checks that the page marks keys at the threshold of the
// anomaly alerts: web/src/anomaly.ts's THRESHOLD against every anomaly_score
// comparison in alerts/kwindow.rules.yml.
func TestAnomalyThreshold(t *testing.T) {
	src, err := os.ReadFile("web/src/anomaly.ts")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`export const THRESHOLD = ([0-9.]+);`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no `export const THRESHOLD = N;` in web/src/anomaly.ts")
	}
	page, _ := strconv.ParseFloat(string(m[1]), 64)
	rules, err := os.ReadFile("../../alerts/kwindow.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`anomaly_score\{[^}]*\}\)\s*>\s*([0-9.]+)`).FindAllSubmatch(rules, -1)
	if len(found) == 0 {
		t.Fatal("no anomaly_score threshold in alerts/kwindow.rules.yml")
	}
	for _, f := range found {
		if v, _ := strconv.ParseFloat(string(f[1]), 64); v != page {
			t.Errorf("alerts/kwindow.rules.yml: %s; the page marks anomalies above %v", f[0], page)
		}
	}
}
