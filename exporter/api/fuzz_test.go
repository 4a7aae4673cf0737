package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/query"
)

// fuzzEndpoint fuzzes the raw query string of one route against a handler over
// real stores: it never panics, and answers 200 or a client error (400, 404,
// 422), always as JSON in the envelope its status says (a stream: events).
func fuzzEndpoint(f *testing.F, route string, seeds ...string) {
	w := newWorld(f, randomEvents(16, 2000, t0, hour), 2, t0+50*minute)
	b := newBackend(f, w, query.Limits{MaxPoints: 20_000, MaxKeys: 500})
	b.endStreams = true
	_, h := newHandler(b, Options{Config: w.cfg, Limits: query.Limits{MaxPoints: 20_000, MaxKeys: 500}})
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery = Prefix+route, raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		code, body := rec.Code, rec.Body.Bytes()
		if route == "stream" && code == http.StatusOK {
			if !strings.HasPrefix(rec.Body.String(), ": subscribed\n\n") || !strings.Contains(rec.Body.String(), "event: dropped\ndata: {") {
				t.Fatalf("%q: stream %q", raw, body)
			}
			return
		}
		var env struct {
			Status string          `json:"status"`
			Data   json.RawMessage `json:"data"`
			Error  *struct {
				Code, Message, Param string
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Fatalf("%q: %d, not JSON (%v): %q", raw, code, err, body)
		}
		switch code {
		case http.StatusOK:
			if env.Status != "success" || len(env.Data) == 0 {
				t.Fatalf("%q: 200 %s", raw, body)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
			if env.Status != "error" || env.Error == nil || env.Error.Code == "" || env.Error.Message == "" ||
				code == http.StatusBadRequest && env.Error.Param == "" {
				t.Fatalf("%q: %d %s", raw, code, body)
			}
		default:
			t.Fatalf("%q: status %d %s", raw, code, body)
		}
	})
}

func FuzzQueryRange(f *testing.F) {
	fuzzEndpoint(f, "query_range",
		`aggregation=req_1m&match[]=endpoint%3D%22%2Fa%22&match[]=region%3D~%22eu-.%2A%22&group_by=endpoint,region&measure=count&measure=p99&from=1795341600&to=1795345200&step=10m`,
		`aggregation=req_1m&group_by=&measure=rate,error_ratio,avg&step=3600`,
		`aggregation=hop_5m&step=5m&from=2026-11-22T10:00:00Z&to=2026-11-22T11:00:00.5Z`,
		`aggregation=counts_1m&match[]=%7Bendpoint%21~%27%2Fu.%2A%27%7D&stale=true&step=1.5`,
		`aggregation=req_1m&step=1ms&from=0&to=1e3`)
}

func FuzzLatest(f *testing.F) {
	fuzzEndpoint(f, "latest",
		`aggregation=req_1m&match[]=method%3D%22GET%22&measure=p50,max&since=1795343400`,
		`aggregation=counts_1m&measure=errors&stale=1&since=2026-11-22T10:30:00Z`)
}

func FuzzTopK(f *testing.F) {
	fuzzEndpoint(f, "topk",
		`aggregation=req_1m&group_by=endpoint&measure=p99&k=3&bottom=true&from=1795341600&to=1795345200`,
		`aggregation=counts_1m&measure=error_ratio&k=500&match[]=endpoint%21%3D%22%2Fa%22`)
}

func FuzzValues(f *testing.F) {
	fuzzEndpoint(f, "values",
		`aggregation=req_1m&dimension=region&prefix=eu-&limit=1`,
		`aggregation=req_1m&dimension=endpoint&match[]=region%3D~%22us.%2A%22&stale=false`)
}

func FuzzStream(f *testing.F) {
	fuzzEndpoint(f, "stream",
		`aggregation=req_1m&match[]=region%3D%22eu-west%22&measure=count,p99`,
		`aggregation=counts_1m&measure=errors`)
}
