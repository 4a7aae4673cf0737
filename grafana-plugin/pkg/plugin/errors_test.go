package plugin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// deadURL is the URL of a server that no longer listens: connection refused.
func deadURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	s.Close()
	return s.URL
}

// answering returns a server that answers every request with status and an
// API error envelope, and counts them.
func answering(t *testing.T, status int, code string) (*httptest.Server, *int) {
	t.Helper()
	n := new(int)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*n++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"status": "error", "error": map[string]string{"code": code, "message": "test answer"}})
	}))
	t.Cleanup(s.Close)
	return s, n
}

func TestFailover(t *testing.T) {
	k := newKwindow(t, closedAll)
	q := dataQuery("A", 0, 10, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}})
	f := func(name, first string, wantOK bool) {
		t.Helper()
		before := k.requests("/api/v1/query_range")
		r := queryData(t, newDS(t, "", first, k.URL), q).Responses["A"]
		after := k.requests("/api/v1/query_range")
		switch {
		case wantOK && r.Error != nil:
			t.Errorf("%s: %v, want the second URL's answer", name, r.Error)
		case wantOK:
			fr := r.Frames[0]
			if !strings.HasPrefix(fr.Meta.ExecutedQueryString, k.URL+"/api/v1/query_range?") {
				t.Errorf("%s: executed %q, want the second URL", name, fr.Meta.ExecutedQueryString)
			}
			var noticed bool
			for _, n := range fr.Meta.Notices {
				noticed = noticed || strings.HasPrefix(n.Text, "failed over: "+first)
			}
			if !noticed {
				t.Errorf("%s: notices %+v, want the failover", name, fr.Meta.Notices)
			}
		case r.Error == nil:
			t.Errorf("%s: answered, want the first URL's error", name)
		case after != before:
			t.Errorf("%s: the second URL was asked after a 4xx", name)
		}
	}
	f("connection refused", deadURL(t), true)
	s500, _ := answering(t, 500, "internal")
	f("500", s500.URL, true)
	s503, _ := answering(t, 503, "unavailable")
	f("503", s503.URL, true)
	s404, _ := answering(t, 404, "not_found")
	f("404", s404.URL, false)
	s401, _ := answering(t, 401, "unauthorized")
	f("401", s401.URL, false)
}

// TestErrorsPerQuery: each query of a batch gets its own answer and status;
// the first succeeds whatever the others do. A proxy in front of the API
// refuses one aggregation with 401, as a gateway restricting it would.
func TestErrorsPerQuery(t *testing.T) {
	k := newKwindow(t, closedAll, "secret")
	target, _ := url.Parse(k.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("aggregation") == "region_5m" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"status":"error","error":{"code":"unauthorized","message":"not this one"}}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	d := newDS(t, "secret", proxy.URL)
	resp := queryData(t, d,
		dataQuery("ok", 0, 10, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}}),
		dataQuery("denied", 0, 10, map[string]any{"aggregation": "region_5m", "measures": []string{"count"}}),
		dataQuery("measure", 0, 10, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"nope"}}),
		dataQuery("unknown", 0, 10, map[string]any{"aggregation": "nope_1m"}),
		dataQuery("var", 0, 10, map[string]any{"aggregation": "endpoint_1m",
			"filters": []map[string]string{{"dim": "endpoint", "op": "=~", "value": "$endpoint"}}}),
		dataQuery("type", 0, 10, map[string]any{"aggregation": "endpoint_1m", "queryType": "graph"}),
	)
	if r := resp.Responses["ok"]; r.Error != nil || len(r.Frames) != 1 {
		t.Errorf("ok: %v", r.Error)
	}
	f := func(ref string, status backend.Status, msg string) {
		t.Helper()
		r := resp.Responses[ref]
		if r.Error == nil || r.Status != status || !strings.Contains(r.Error.Error(), msg) {
			t.Errorf("%s: status %d error %v, want %d with %q", ref, r.Status, r.Error, status, msg)
		}
		if r.ErrorSource != backend.ErrorSourceDownstream {
			t.Errorf("%s: error source %q, want downstream", ref, r.ErrorSource)
		}
	}
	f("denied", backend.StatusUnauthorized, "401 unauthorized")
	f("measure", backend.StatusBadRequest, "400 bad_query (measure)")
	f("unknown", backend.StatusBadRequest, `no aggregation "nope_1m"`)
	f("var", backend.StatusBadRequest, `filters[0].value: filter endpoint=~"$endpoint": template variable $endpoint was not replaced`)
	f("type", backend.StatusBadRequest, "queryType")

	// The API's own token check: a wrong token fails every query with 401.
	resp = queryData(t, newDS(t, "wrong", k.URL), dataQuery("A", 0, 10, map[string]any{"aggregation": "endpoint_1m"}))
	if r := resp.Responses["A"]; r.Status != backend.StatusUnauthorized {
		t.Errorf("wrong token: status %d %v, want 401", r.Status, r.Error)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	jd, _ := json.Marshal(map[string]any{"urls": []string{slow.URL}, "timeoutSeconds": 0.2})
	d := New(backend.DataSourceInstanceSettings{UID: "kw", JSONData: jd}, "test")
	defer d.Dispose()
	start := time.Now()
	resp := queryData(t, d, dataQuery("A", 0, 10, map[string]any{"aggregation": "endpoint_1m"}))
	if r := resp.Responses["A"]; r.Status != backend.StatusTimeout {
		t.Errorf("status %d %v, want a timeout", r.Status, r.Error)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v with a 0.2 s timeout", el)
	}
	// A 504 of the API is a timeout too.
	s504, _ := answering(t, 504, "timeout")
	resp = queryData(t, newDS(t, "", s504.URL), dataQuery("A", 0, 10, map[string]any{"aggregation": "endpoint_1m"}))
	if r := resp.Responses["A"]; r.Status != backend.StatusTimeout {
		t.Errorf("504: status %d %v, want a timeout", r.Status, r.Error)
	}
	// No instance: bad gateway, naming each URL.
	a, b := deadURL(t), deadURL(t)
	resp = queryData(t, newDS(t, "", a, b), dataQuery("A", 0, 10, map[string]any{"aggregation": "endpoint_1m"}))
	if r := resp.Responses["A"]; r.Status != backend.StatusBadGateway || !strings.Contains(r.Error.Error(), a) || !strings.Contains(r.Error.Error(), b) {
		t.Errorf("unreachable: status %d %v, want 502 naming %s and %s", r.Status, r.Error, a, b)
	}
}
