package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/kwindow/kwindow/exporter/web"
)

// get requests path from h with the given Accept header and returns the response
// with its body read.
func get(t *testing.T, h http.Handler, path, accept string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp, string(body)
}

func TestProbes(t *testing.T) {
	const reason = "restoring 3 of 12 partitions: 1.2M records left"
	var ready atomic.Bool
	h := web.NewHandler(web.Options{Ready: func() (bool, string) {
		if ready.Load() {
			return true, ""
		}
		return false, reason
	}})

	tests := []struct {
		name     string
		path     string
		ready    bool
		wantCode int
		wantBody string
	}{
		{"healthz while restoring", "/healthz", false, http.StatusOK, "ok"},
		{"readyz while restoring", "/readyz", false, http.StatusServiceUnavailable, reason},
		{"readyz once restored", "/readyz", true, http.StatusOK, "ok"},
		{"healthz once restored", "/healthz", true, http.StatusOK, "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready.Store(tt.ready)
			resp, body := get(t, h, tt.path, "")
			if resp.StatusCode != tt.wantCode || strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q, want text/plain", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

func TestReadyzNilIsReady(t *testing.T) {
	resp, body := get(t, web.NewHandler(web.Options{}), "/readyz", "")
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET /readyz without Options.Ready = %d %q, want 200 \"ok\"", resp.StatusCode, body)
	}
}

func TestReadyzEmptyReason(t *testing.T) {
	h := web.NewHandler(web.Options{Ready: func() (bool, string) { return false, "" }})
	resp, body := get(t, h, "/readyz", "")
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(body) != "not ready" {
		t.Errorf("GET /readyz = %d %q, want 503 \"not ready\"", resp.StatusCode, body)
	}
}

// metricsRegistry holds a counter at 3 and a histogram with native buckets holding
// 0.1, 0.2 and 0.3.
func metricsRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	events := prometheus.NewCounter(prometheus.CounterOpts{Name: "kwindow_test_events_total", Help: "Test events."})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:                        "kwindow_test_latency_seconds",
		Help:                        "Test latency.",
		NativeHistogramBucketFactor: 1.1,
	})
	reg.MustRegister(events, latency)
	events.Add(3)
	for _, v := range []float64{0.1, 0.2, 0.3} {
		latency.Observe(v)
	}
	return reg
}

func TestMetricsNegotiation(t *testing.T) {
	h := web.NewHandler(web.Options{Registry: metricsRegistry(t)})

	tests := []struct {
		name       string
		accept     string
		wantType   expfmt.FormatType
		wantPrefix string
	}{
		{"no Accept", "", expfmt.TypeTextPlain, "text/plain; version=0.0.4"},
		{"text", "text/plain;version=0.0.4", expfmt.TypeTextPlain, "text/plain; version=0.0.4"},
		{"OpenMetrics", "application/openmetrics-text;version=1.0.0", expfmt.TypeOpenMetrics, "application/openmetrics-text"},
		{
			// What Prometheus sends (scrape_protocols default, PrometheusProto first).
			"Prometheus scrape",
			"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5," +
				"application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.1",
			expfmt.TypeProtoDelim, "application/vnd.google.protobuf",
		},
		{
			"protobuf",
			"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
			expfmt.TypeProtoDelim, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, h, "/metrics", tt.accept)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics = %d %q", resp.StatusCode, body)
			}
			ct := resp.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, tt.wantPrefix) {
				t.Errorf("Content-Type = %q, want prefix %q", ct, tt.wantPrefix)
			}
			// Not expfmt.ResponseFormat: it knows no OpenMetrics.
			format := expfmt.Format(ct)
			if got := format.FormatType(); got != tt.wantType {
				t.Fatalf("format type of %q = %v, want %v", ct, got, tt.wantType)
			}
			switch tt.wantType {
			case expfmt.TypeProtoDelim:
				checkProto(t, body, format)
			case expfmt.TypeOpenMetrics:
				if !strings.Contains(body, "\nkwindow_test_events_total 3.0\n") || !strings.HasSuffix(body, "# EOF\n") {
					t.Errorf("OpenMetrics body lacks the counter or the # EOF line:\n%s", body)
				}
			default:
				if !strings.Contains(body, "\nkwindow_test_events_total 3\n") {
					t.Errorf("text body lacks kwindow_test_events_total 3:\n%s", body)
				}
			}
		})
	}
}

// checkProto decodes a protobuf exposition and checks that the histogram arrived
// with its native buckets, which only protobuf carries to Prometheus.
func checkProto(t *testing.T, body string, format expfmt.Format) {
	t.Helper()
	dec := expfmt.NewDecoder(strings.NewReader(body), format)
	families := map[string]*dto.MetricFamily{}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding protobuf: %v", err)
		}
		families[mf.GetName()] = mf
	}
	if got := families["kwindow_test_events_total"].GetMetric()[0].GetCounter().GetValue(); got != 3 {
		t.Errorf("kwindow_test_events_total = %v, want 3", got)
	}
	mf := families["kwindow_test_latency_seconds"]
	if mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.GetMetric()) != 1 {
		t.Fatalf("kwindow_test_latency_seconds = %v, want one histogram", mf)
	}
	h := mf.GetMetric()[0].GetHistogram()
	// Native buckets are delta-encoded: each bucket's count is the previous one's
	// plus its delta. All three observations are above the zero bucket.
	var count, inBuckets int64
	for _, d := range h.GetPositiveDelta() {
		count += d
		inBuckets += count
	}
	if h.GetSampleCount() != 3 || len(h.GetPositiveSpan()) == 0 || inBuckets != 3 {
		t.Errorf("histogram has count %d, %d positive spans and %d observations in native buckets; want 3, some, 3",
			h.GetSampleCount(), len(h.GetPositiveSpan()), inBuckets)
	}
}

func TestLandingPage(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") })
	h := web.NewHandler(web.Options{
		Version:  "1.2.3",
		Links:    []web.Link{{Path: "/api/v1/", Text: "Query API"}},
		Handlers: map[string]http.Handler{"/api/": api},
	})

	resp, body := get(t, h, "/", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"<title>kwindow</title>", "1.2.3", "Query API"} {
		if !strings.Contains(body, want) {
			t.Errorf("landing page lacks %q:\n%s", want, body)
		}
	}

	var hrefs []string
	for _, m := range regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(body, -1) {
		hrefs = append(hrefs, m[1])
	}
	for _, route := range []string{"/metrics", "/healthz", "/readyz", "/api/v1/"} {
		if !slices.Contains(hrefs, route) {
			t.Errorf("landing page links to %q, not to %s", hrefs, route)
		}
	}
	for _, href := range hrefs {
		if resp, _ := get(t, h, href, ""); resp.StatusCode != http.StatusOK {
			t.Errorf("landing page link %s answers %d, want 200", href, resp.StatusCode)
		}
	}

	if resp, _ := get(t, h, "/no-such-page", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %d, want 404", resp.StatusCode)
	}
}

func TestHome(t *testing.T) {
	home := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "home "+r.URL.Path) })
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "{}") })
	h := web.NewHandler(web.Options{Home: home, Links: []web.Link{{Path: "/api/v1/", Text: "Query API"}},
		Handlers: map[string]http.Handler{"/api/": api}, Registry: metricsRegistry(t)})
	for path, want := range map[string]string{"/": "home /", "/ui/x.js": "home /ui/x.js", "/api/v1/status": "{}", "/healthz": "ok"} {
		if resp, body := get(t, h, path, ""); resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, resp.StatusCode, body, want)
		}
	}
	if _, body := get(t, h, "/metrics", ""); !strings.Contains(body, "kwindow_test_events_total 3") {
		t.Errorf("/metrics with a Home lacks the registry's metrics:\n%s", body)
	}
}
