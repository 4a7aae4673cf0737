package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

// TestBadParams: every bad parameter is a 400 bad_query naming it, whether the
// handler or the query engine finds it.
func TestBadParams(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, randomEvents(4, 200, t0, hour), 2, t0+2*hour), query.Limits{}),
		Options{Limits: query.Limits{MaxKeys: 100}})
	many := strings.Repeat("&match[]="+url.QueryEscape(`endpoint!="x"`), 33)
	long := url.QueryEscape(`endpoint=~"` + strings.Repeat("a", 1025) + `"`)
	for _, tc := range []struct {
		path  string
		param string
	}{
		{"query_range", "aggregation"},
		{"query_range?aggregation=nope", "aggregation"},
		{"query_range?aggregation=req_1m&match[]=endpoint", "match[]"},
		{"query_range?aggregation=req_1m&match[]=" + url.QueryEscape(`endpoint="x`), "match[]"},
		{"query_range?aggregation=req_1m&match[]=" + url.QueryEscape(`{endpoint="x",}x`), "match[]"},
		{"query_range?aggregation=req_1m&match[]=" + url.QueryEscape(`host="x"`), "match[]"},
		{"query_range?aggregation=req_1m&match[]=" + url.QueryEscape(`endpoint=~"("`), "match[]"},
		{"query_range?aggregation=req_1m&match[]=" + long, "match[]"},
		{"query_range?aggregation=req_1m" + many, "match[]"},
		{"query_range?aggregation=req_1m&measure=p999x", "measure"},
		{"query_range?aggregation=req_1m&measure=p101", "measure"},
		{"query_range?aggregation=req_1m&measure=count,count", "measure"},
		{"query_range?aggregation=counts_1m&measure=p99", "measure"},
		{"query_range?aggregation=counts_1m&measure=count&measure=avg", "measure"},
		{"query_range?aggregation=req_1m&group_by=host", "group_by"},
		{"query_range?aggregation=req_1m&group_by=endpoint,endpoint", "group_by"},
		{"query_range?aggregation=req_1m&from=yesterday", "from"},
		{"query_range?aggregation=req_1m&to=2026-13-01T00:00:00Z", "to"},
		{"query_range?aggregation=req_1m&to=253402300800", "to"},
		{"query_range?aggregation=req_1m&from=1795341600&to=1795341600", "to"},
		{"query_range?aggregation=req_1m&from=1795341600&to=1795341000", "to"},
		{"query_range?aggregation=req_1m&step=0", "step"},
		{"query_range?aggregation=req_1m&step=-1m", "step"},
		{"query_range?aggregation=req_1m&step=-60", "step"},
		{"query_range?aggregation=req_1m&step=soon", "step"},
		{"query_range?aggregation=req_1m&step=1.5ms", "step"},
		{"query_range?aggregation=req_1m&step=1e300", "step"},
		{"query_range?aggregation=req_1m&step=1m&step=5m", "step"},
		{"query_range?aggregation=hop_5m&step=7m", "step"},
		{"query_range?aggregation=req_1m&stale=yes", "stale"},
		{"query_range?aggregation=req_1m&mesure=count", "mesure"},
		{"query_range?aggregation=req_1m&match=" + url.QueryEscape(`endpoint="x"`), "match"},
		{"query_range?aggregation=req_1m&query=%zz", "query"},
		{"topk?aggregation=req_1m&k=0", "k"},
		{"topk?aggregation=req_1m&k=-3", "k"},
		{"topk?aggregation=req_1m&k=101", "k"},
		{"topk?aggregation=req_1m&k=ten", "k"},
		{"topk?aggregation=req_1m&bottom=maybe", "bottom"},
		{"topk?aggregation=req_1m&measure=p99.x", "measure"},
		{"topk?aggregation=counts_1m&measure=max", "measure"},
		{"topk?aggregation=req_1m&group_by=nope", "group_by"},
		{"topk?aggregation=req_1m&step=1m", "step"},
		{"latest?aggregation=req_1m&since=now", "since"},
		{"latest?aggregation=req_1m&measure=avg&measure=q2", "measure"},
		{"values?aggregation=req_1m", "dimension"},
		{"values?aggregation=req_1m&dimension=host", "dimension"},
		{"values?aggregation=req_1m&dimension=endpoint&limit=-1", "limit"},
		{"values?aggregation=req_1m&dimension=endpoint&limit=101", "limit"},
		{"values?aggregation=req_1m&dimension=endpoint&match[]=" + url.QueryEscape(`region=~"["`), "match[]"},
		{"stream?aggregation=req_1m&match[]=" + url.QueryEscape(`nope="x"`), "match[]"},
		{"stream?aggregation=counts_1m&measure=p50", "measure"},
		{"stream?aggregation=req_1m&from=1", "from"},
		{"status?verbose=1", "verbose"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, hdr, body := s.get(t, Prefix+tc.path)
			if code != http.StatusBadRequest || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s: %s", code, hdr.Get("Content-Type"), body)
			}
			e := errorOf(t, body)
			if e.Code != client.CodeBadQuery || e.Param != tc.param || e.Message == "" {
				t.Errorf("code %q param %q, want bad_query %q: %s", e.Code, e.Param, tc.param, e.Message)
			}
		})
	}
}

// TestPost: query_range and topk take their parameters as a JSON object or a
// form too, and answer as to a GET.
func TestPost(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, randomEvents(5, 500, t0, hour), 2, t0+2*hour), query.Limits{}), Options{})
	q := url.Values{"aggregation": {"req_1m"}, "match[]": {`region="eu-west"`, `method!="POST"`}, "measure": {"count", "p50"},
		"group_by": {"endpoint"}, "from": {"1795341600"}, "to": {"2026-11-22T11:00:00Z"}, "step": {"15m"}}
	_, _, viaGet := s.get(t, Prefix+"query_range?"+q.Encode())
	js := `{"aggregation":"req_1m","match[]":["region=\"eu-west\"","method!=\"POST\""],"measure":["count","p50"],` +
		`"group_by":"endpoint","from":1795341600,"to":"2026-11-22T11:00:00Z","step":"15m"}`
	code, _, viaJSON := s.do(t, http.MethodPost, Prefix+"query_range", "application/json", []byte(js))
	if code != http.StatusOK || string(viaJSON) != string(viaGet) {
		t.Errorf("POST JSON: %d\n%s\nGET:\n%s", code, viaJSON, viaGet)
	}
	code, _, viaForm := s.do(t, http.MethodPost, Prefix+"query_range", "application/x-www-form-urlencoded", []byte(q.Encode()))
	if code != http.StatusOK || string(viaForm) != string(viaGet) {
		t.Errorf("POST form: %d\n%s", code, viaForm)
	}
	code, _, body := s.do(t, http.MethodPost, Prefix+"topk", "application/json", []byte(`{"aggregation":"req_1m","k":3,"bottom":true,"from":1795341600}`))
	if code != http.StatusOK || !strings.Contains(string(body), `"k":3,"bottom":true`) {
		t.Errorf("POST topk: %d %s", code, body)
	}
	for _, tc := range []struct{ ctype, body, param string }{
		{"application/json", `[1,2]`, "body"},
		{"application/json", `{"k":{"x":1}}`, "k"},
		{"text/plain", `k=1`, "body"},
		{"application/json", `{"aggregation":"req_1m","extra":1}`, "extra"},
	} {
		code, _, body := s.do(t, http.MethodPost, Prefix+"topk", tc.ctype, []byte(tc.body))
		if e := errorOf(t, body); code != http.StatusBadRequest || e.Param != tc.param {
			t.Errorf("POST %s %s: %d %s", tc.ctype, tc.body, code, body)
		}
	}
	big := `{"aggregation":"` + strings.Repeat("x", maxBody) + `"}`
	if code, _, body := s.do(t, http.MethodPost, Prefix+"topk", "application/json", []byte(big)); code != http.StatusBadRequest {
		t.Errorf("POST of more than 1 MiB: %d %.200s", code, body)
	}
}

// TestRoutesAndMethods: unknown routes 404, wrong methods 405 with Allow, both
// as JSON.
func TestRoutesAndMethods(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}), Options{})
	for _, path := range []string{"/api/v1/nope", "/api/v1/", "/api/v2/status", "/", "/api/v1/aggregations/nope", "/api/v1/aggregations/req_1m/x"} {
		code, hdr, body := s.get(t, path)
		if e := errorOf(t, body); code != http.StatusNotFound || e.Code != client.CodeNotFound || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodDelete, "status", "GET"},
		{http.MethodPost, "status", "GET"},
		{http.MethodPut, "query_range", "GET, POST"},
		{http.MethodPost, "latest", "GET"},
	} {
		code, hdr, body := s.do(t, tc.method, Prefix+tc.path, "", nil)
		if e := errorOf(t, body); code != http.StatusMethodNotAllowed || e.Code != client.CodeMethodNotAllowed || hdr.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q %s", tc.method, tc.path, code, hdr.Get("Allow"), body)
		}
	}
}

// TestLimits: answers past api.max_points or api.max_keys are 422 naming the
// limit.
func TestLimits(t *testing.T) {
	w := newWorld(t, randomEvents(6, 3000, t0, hour), 2, t0+2*hour)
	s := newServer(t, newBackend(t, w, query.Limits{MaxPoints: 100, MaxKeys: 5}), Options{})
	for _, tc := range []struct {
		path  string
		limit string
		max   int
	}{
		{"query_range?aggregation=req_1m&group_by=endpoint", "max_points", 100}, // 4 x 60 points
		{"query_range?aggregation=req_1m&from=0&to=1795345200&step=1m", "max_points", 100},
		{"query_range?aggregation=req_1m&step=1h", "max_keys", 5}, // 24 keys
		{"latest?aggregation=req_1m", "max_keys", 5},
	} {
		code, _, body := s.get(t, Prefix+tc.path)
		e := errorOf(t, body)
		if code != http.StatusUnprocessableEntity || e.Code != client.CodeLimitExceeded || e.Limit != tc.limit || e.Max != tc.max || e.Need <= tc.max {
			t.Errorf("%s: %d %s", tc.path, code, body)
		}
	}
	// Just within: 4 series of 25 points is 100.
	if code, _, body := s.get(t, Prefix+"query_range?aggregation=req_1m&group_by=endpoint&from=1795341600&to=1795343100"); code != http.StatusOK {
		t.Errorf("100 points: %d %s", code, body)
	}
}

// TestUnavailable: a restoring partition is a 503 with Retry-After naming it;
// with stale=true the answer reads it and reports how far behind it was.
func TestUnavailable(t *testing.T) {
	b := newBackend(t, newWorld(t, randomEvents(7, 1000, t0, hour), 2, t0+2*hour), query.Limits{})
	b.set(func() { b.restoring = map[int32]int64{1: 1234} })
	s := newServer(t, b, Options{})
	for _, path := range []string{"query_range?aggregation=req_1m", "latest?aggregation=req_1m", "topk?aggregation=req_1m", "values?aggregation=req_1m&dimension=region"} {
		code, hdr, body := s.get(t, Prefix+path)
		e := errorOf(t, body)
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") != "3" || e.Code != client.CodeUnavailable ||
			fmt.Sprint(e.Partitions) != "[1]" || e.RetryAfterSeconds != 3 {
			t.Errorf("%s: %d Retry-After %q %s", path, code, hdr.Get("Retry-After"), body)
		}
		code, _, body = s.get(t, Prefix+path+"&stale=true")
		if code != http.StatusOK || !strings.Contains(string(body), `"stale":[{"partition":1,"behind":1234}]`) {
			t.Errorf("%s&stale=true: %d %s", path, code, body)
		}
	}
	res, err := newClient(t, s).QueryRange(t.Context(), client.RangeRequest{Aggregation: "req_1m", Stale: true})
	if err != nil || res.Complete || len(res.Stale) != 1 {
		t.Errorf("a stale answer: err %v, complete %v, stale %v", err, res.Complete, res.Stale)
	}
	b.set(func() { b.err = fmt.Errorf("fan-out: %w", ErrUnavailable) })
	if code, hdr, _ := s.get(t, Prefix+"query_range?aggregation=req_1m"); code != http.StatusServiceUnavailable || hdr.Get("Retry-After") != "1" {
		t.Errorf("a wrapped ErrUnavailable: %d Retry-After %q", code, hdr.Get("Retry-After"))
	}
}

// TestTimeout: a query past api.timeout is a 504.
func TestTimeout(t *testing.T) {
	b := newBackend(t, newWorld(t, nil, 1, t0), query.Limits{})
	b.set(func() { b.block = true })
	s := newServer(t, b, Options{Timeout: 20 * time.Millisecond})
	code, _, body := s.get(t, Prefix+"query_range?aggregation=req_1m")
	if e := errorOf(t, body); code != http.StatusGatewayTimeout || e.Code != client.CodeTimeout {
		t.Errorf("%d %s", code, body)
	}
}

// TestInternal: an unexpected error is a 500 whose message says nothing of it;
// the log has it.
func TestInternal(t *testing.T) {
	b := newBackend(t, newWorld(t, nil, 1, t0), query.Limits{})
	b.set(func() { b.err = errors.New("reading partition 3: disk on fire") })
	s := newServer(t, b, Options{})
	code, _, body := s.get(t, Prefix+"topk?aggregation=req_1m")
	if e := errorOf(t, body); code != http.StatusInternalServerError || e.Code != client.CodeInternal || strings.Contains(string(body), "fire") {
		t.Errorf("%d %s", code, body)
	}
	if !strings.Contains(s.log.String(), "disk on fire") {
		t.Errorf("not logged: %q", s.log.String())
	}
}
