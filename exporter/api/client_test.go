package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// TestClientStatusAndAggregations: the group's status, and what each
// aggregation can answer, down to the measures the query engine accepts.
func TestClientStatusAndAggregations(t *testing.T) {
	w := newWorld(t, randomEvents(11, 300, t0, hour), 2, t0+2*hour)
	w.srcs[1].StreamTime = t0 + 90*minute
	b := newBackend(t, w, query.Limits{})
	b.set(func() { b.restoring = map[int32]int64{1: 7} })
	c := newClient(t, newServer(t, b, Options{Version: "1.2.3"}))
	ctx := context.Background()

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready || st.Reason != "restoring" || st.Version != "1.2.3" || st.Partitions != 2 || len(st.Members) != 1 ||
		fmt.Sprint(st.Members[0].Partitions, st.Members[0].Restoring) != "[0 1] [1]" || len(st.StreamTimes) != 2 ||
		*st.StreamTimes[1].StreamTime != client.Timestamp(t0+90*minute) {
		t.Errorf("status %+v", st)
	}
	b.set(func() { b.restoring = nil })

	aggs, err := c.Aggregations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(aggs) != 3 {
		t.Fatalf("%d aggregations", len(aggs))
	}
	byName := map[string]client.Aggregation{}
	for _, a := range aggs {
		byName[a.Name] = a
	}
	req, counts, hop := byName["req_1m"], byName["counts_1m"], byName["hop_5m"]
	if fmt.Sprint(req.Measures) != "[count rate client_errors server_errors errors error_ratio client_error_ratio sum min max avg p50 p99]" ||
		!req.AnyQuantile || req.SketchRelativeError == nil || *req.SketchRelativeError != sketch.RelativeError(sketch.DefaultSchema) ||
		req.Retention != client.Duration(48*time.Hour) || req.Window != (client.WindowSpec{Type: "tumbling", Size: client.Duration(time.Minute), Grace: client.Duration(10 * time.Second)}) ||
		fmt.Sprint(req.GroupBy) != "[endpoint method region]" {
		t.Errorf("req_1m: %+v", req)
	}
	if fmt.Sprint(counts.Measures) != "[count rate client_errors server_errors errors error_ratio client_error_ratio]" ||
		counts.AnyQuantile || counts.SketchRelativeError != nil || len(counts.Quantiles) != 0 {
		t.Errorf("counts_1m: %+v", counts)
	}
	if hop.Window.Type != "hopping" || hop.Window.Size != client.Duration(5*time.Minute) || hop.Window.Advance != client.Duration(time.Minute) {
		t.Errorf("hop_5m window: %+v", hop.Window)
	}
	if tr := req.TimeRange; tr == nil || tr.From != client.Timestamp(t0+90*minute-48*hour) || tr.To != client.Timestamp(t0+2*hour) || tr.Basis != "local" {
		t.Errorf("req_1m time range %+v", req.TimeRange)
	}

	// The measures listed are exactly those a query takes.
	all := []string{"count", "rate", "client_errors", "server_errors", "errors", "error_ratio", "client_error_ratio", "sum", "min", "max", "avg", "p50", "p99", "p99.9"}
	for _, a := range aggs {
		for _, m := range all {
			_, err := c.QueryRange(ctx, client.RangeRequest{Aggregation: a.Name, Measures: []string{m}, Step: 5 * time.Minute})
			listed := slices.Contains(a.Measures, m) || a.AnyQuantile && strings.HasPrefix(m, "p")
			var ce *client.Error
			if listed && err != nil || !listed && !(errors.As(err, &ce) && ce.Param == "measure") {
				t.Errorf("%s, measure %s: listed %v, query error %v", a.Name, m, listed, err)
			}
		}
	}

	one, err := c.Aggregation(ctx, "hop_5m")
	if err != nil || !reflect.DeepEqual(*one, hop) {
		t.Errorf("Aggregation(hop_5m) = %+v, %v", one, err)
	}
	var ce *client.Error
	if _, err := c.Aggregation(ctx, "nope"); !errors.As(err, &ce) || ce.Status != 404 || ce.Code != client.CodeNotFound {
		t.Errorf("Aggregation(nope): %v", err)
	}
}

// TestClientValues: the values of a dimension, by prefix, filtered, limited.
func TestClientValues(t *testing.T) {
	evs := randomEvents(12, 400, t0, hour)
	c := newClient(t, newServer(t, newBackend(t, newWorld(t, evs, 2, t0+2*hour), query.Limits{}), Options{}))
	ctx := context.Background()
	v, err := c.Values(ctx, client.ValuesRequest{Aggregation: "req_1m", Dimension: "region", Prefix: "eu-"})
	if err != nil || fmt.Sprint(v.Values) != "[eu-north eu-west]" || v.Truncated || v.Dimension != "region" || len(v.Partitions) != 2 {
		t.Errorf("eu- regions: %+v, %v", v, err)
	}
	v, err = c.Values(ctx, client.ValuesRequest{Aggregation: "req_1m", Dimension: "endpoint", Limit: 2})
	if err != nil || fmt.Sprint(v.Values) != "[/a /b]" || !v.Truncated {
		t.Errorf("limit 2: %+v, %v", v, err)
	}
	want := map[string]bool{}
	for _, e := range evs {
		if e.dims[2] == "us-east" && e.dims[1] == "POST" {
			want[e.dims[0]] = true
		}
	}
	v, err = c.Values(ctx, client.ValuesRequest{Aggregation: "req_1m", Dimension: "endpoint",
		Match: []client.Matcher{client.Eq("region", "us-east"), client.Nre("method", "GET|PUT")}})
	if err != nil || len(v.Values) != len(want) {
		t.Errorf("filtered: %+v, %v; want %v", v, err, want)
	}
}

// TestClientLatest: per key, the latest closed window and the open ones, as
// the stream time says, with exact counts.
func TestClientLatest(t *testing.T) {
	evs := randomEvents(13, 1500, t0, 30*minute)
	st := t0 + 29*minute + 5_000
	c := newClient(t, newServer(t, newBackend(t, newWorld(t, evs, 2, st), query.Limits{}), Options{}))
	res, err := c.Latest(context.Background(), client.LatestRequest{Aggregation: "counts_1m", Measures: []string{"count", "errors"},
		Since: time.UnixMilli(t0 + 20*minute)})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]map[int64]int{}
	for _, e := range evs {
		if counts[e.dims[0]] == nil {
			counts[e.dims[0]] = map[int64]int{}
		}
		counts[e.dims[0]][e.t-e.t%minute]++
	}
	if len(res.Keys) != len(counts) {
		t.Fatalf("%d keys, want %d", len(res.Keys), len(counts))
	}
	for _, k := range res.Keys {
		ep := k.Labels["endpoint"]
		if k.Closed == nil || k.Closed.Start != client.Timestamp(t0+27*minute) || k.Closed.Partial ||
			k.Closed.Values["count"] != client.Value(counts[ep][t0+27*minute]) || k.Partition != partitionOf(ep, 2) {
			t.Errorf("%s closed %+v, partition %d", ep, k.Closed, k.Partition)
		}
		var open []int64
		for _, w := range k.Open {
			open = append(open, int64(w.Start))
			if !w.Partial || w.Values["count"] != client.Value(counts[ep][int64(w.Start)]) {
				t.Errorf("%s open %+v, want count %d", ep, w, counts[ep][int64(w.Start)])
			}
		}
		if fmt.Sprint(open) != fmt.Sprint([]int64{t0 + 28*minute, t0 + 29*minute}) {
			t.Errorf("%s open windows %v", ep, open)
		}
	}
}

// TestClientTopK: the endpoints with the most events, and the fewest, exact.
func TestClientTopK(t *testing.T) {
	evs := randomEvents(14, 3000, t0, hour)
	c := newClient(t, newServer(t, newBackend(t, newWorld(t, evs, 2, t0+2*hour), query.Limits{}), Options{}))
	from, to := t0+10*minute, t0+40*minute
	n := map[string]int{}
	for _, e := range evs {
		if e.t >= from && e.t < to {
			n[e.dims[0]]++
		}
	}
	ranked := make([]string, 0, len(n))
	for ep := range n {
		ranked = append(ranked, ep)
	}
	sort.Slice(ranked, func(i, j int) bool { return n[ranked[i]] > n[ranked[j]] })
	for _, bottom := range []bool{false, true} {
		res, err := c.TopK(context.Background(), client.TopKRequest{Aggregation: "req_1m", GroupBy: []string{"endpoint"}, K: 2, Bottom: bottom,
			From: time.UnixMilli(from), To: time.UnixMilli(to)})
		if err != nil {
			t.Fatal(err)
		}
		want := ranked[:2]
		if bottom {
			want = []string{ranked[len(ranked)-1], ranked[len(ranked)-2]}
		}
		if len(res.Entries) != 2 || !res.Complete || res.Measure != "count" || res.K != 2 || res.Bottom != bottom {
			t.Fatalf("bottom %v: %+v", bottom, res)
		}
		for i, e := range res.Entries {
			if e.Labels["endpoint"] != want[i] || e.Value != client.Value(n[want[i]]) || !e.Complete {
				t.Errorf("bottom %v, entry %d: %+v, want %s with %d", bottom, i, e, want[i], n[want[i]])
			}
		}
	}
}

// TestClientErrors: every error status arrives as a *client.Error with its
// code, parameter, limit, partitions and Retry-After.
func TestClientErrors(t *testing.T) {
	w := newWorld(t, randomEvents(15, 500, t0, hour), 2, t0+2*hour)
	b := newBackend(t, w, query.Limits{MaxPoints: 10})
	s := newServer(t, b, Options{Auth: StaticTokens{"tok"}, Timeout: 50 * time.Millisecond})
	c := newClient(t, s, client.WithToken("tok"), client.WithHTTPClient(s.Client()))
	ctx := context.Background()
	var ce *client.Error
	expect := func(what string, err error, status int, code string, check func(*client.Error) bool) {
		t.Helper()
		if !errors.As(err, &ce) || ce.Status != status || ce.Code != code || !check(ce) {
			t.Errorf("%s: %#v", what, err)
		}
	}
	anyError := func(*client.Error) bool { return true }

	_, err := c.QueryRange(ctx, client.RangeRequest{Aggregation: "req_1m", Step: -time.Minute})
	expect("bad step", err, 400, client.CodeBadQuery, func(e *client.Error) bool { return e.Param == "step" })
	_, err = c.QueryRange(ctx, client.RangeRequest{Aggregation: "req_1m"})
	expect("too many points", err, 422, client.CodeLimitExceeded, func(e *client.Error) bool { return e.Limit == "max_points" })
	_, err = newClient(t, s, client.WithToken("wrong")).Status(ctx)
	expect("wrong token", err, 401, client.CodeUnauthorized, anyError)
	_, err = newClient(t, s).Status(ctx)
	expect("no token", err, 401, client.CodeUnauthorized, anyError)

	b.set(func() { b.restoring = map[int32]int64{0: 1, 1: 2} })
	_, err = c.TopK(ctx, client.TopKRequest{Aggregation: "req_1m"})
	expect("restoring", err, 503, client.CodeUnavailable, func(e *client.Error) bool {
		return e.RetryAfter == 3*time.Second && fmt.Sprint(e.Partitions) == "[0 1]"
	})
	b.set(func() { b.restoring = nil })

	b.set(func() { b.block = true })
	_, err = c.Latest(ctx, client.LatestRequest{Aggregation: "req_1m"})
	expect("server timeout", err, 504, client.CodeTimeout, anyError)
	_, err = newClient(t, s, client.WithToken("tok"), client.WithTimeout(10*time.Millisecond)).Values(ctx,
		client.ValuesRequest{Aggregation: "req_1m", Dimension: "endpoint"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("client timeout: %v", err)
	}
	b.set(func() { b.block = false })

	// An answer that is not the API's: a proxy's error page.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	defer proxy.Close()
	pc, _ := client.New(proxy.URL + "/kwindow/")
	_, err = pc.Status(ctx)
	expect("a proxy's error", err, 502, "", func(e *client.Error) bool { return e.Message == "upstream connect error" })

	if _, err := client.New("kwindow:9897"); err == nil {
		t.Error("a base URL without a scheme was accepted")
	}
}
