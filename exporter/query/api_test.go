package query

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

// pipeline is 3 stores of random events over 2 hours and 17 minutes.
func pipeline(t *testing.T) ([]ev, []Source) {
	t.Helper()
	c := newConfig(t)
	evs := randomEvents(rand.New(rand.NewPCG(5, 6)), 20_000, t0, 2*hour+17*minute)
	stores := []store.Store{store.NewMemory(), store.NewMemory(), store.NewMemory()}
	return evs, runPipeline(t, c, stores, evs, 500)
}

func TestBadQueries(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{MaxPoints: 100, MaxKeys: 5})
	_, srcs := pipeline(t)
	ctx := context.Background()
	p99 := Measure{Kind: Quantile, Q: 0.99}
	f := func(q RangeQuery, param string) {
		t.Helper()
		_, err := l.Range(ctx, srcs, q)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Param != param || !errors.Is(err, ErrBadQuery) {
			t.Errorf("Range(%+v) = %v, want a bad %s", q, err, param)
		}
	}
	ok := RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Step: hour}
	with := func(m func(*RangeQuery)) RangeQuery { q := ok; m(&q); return q }
	f(with(func(q *RangeQuery) { q.Aggregation = "nope" }), "aggregation")
	f(with(func(q *RangeQuery) { q.To = q.From }), "to")
	f(with(func(q *RangeQuery) { q.Step = -1 }), "step")
	f(with(func(q *RangeQuery) { q.Filters = []Matcher{{"endpoint", Equal, "/a"}, {"status", Equal, "200"}} }), "filters[1]")
	f(with(func(q *RangeQuery) { q.Filters = []Matcher{{"endpoint", Regexp, "("}} }), "filters[0]")
	f(with(func(q *RangeQuery) { q.Filters = []Matcher{{"endpoint", Op(9), ""}} }), "filters[0]")
	f(with(func(q *RangeQuery) { q.GroupBy = []string{"region", "nope"} }), "group_by[1]")
	f(with(func(q *RangeQuery) { q.GroupBy = []string{"region", "region"} }), "group_by[1]")
	f(with(func(q *RangeQuery) { q.Aggregation = "counts_1m"; q.Measures = []Measure{{Kind: Count}, p99} }), "measures[1]")
	f(with(func(q *RangeQuery) { q.Aggregation = "counts_1m"; q.Measures = []Measure{{Kind: Avg}} }), "measures[0]")

	for _, s := range []string{"p", "p101", "q1.5", "qx", "median", "p-1"} {
		if _, err := ParseMeasure(s); err == nil {
			t.Errorf("ParseMeasure(%q) succeeded", s)
		}
	}
	for s, want := range map[string]Measure{"p99": p99, "q0.999": {Kind: Quantile, Q: 0.999}, "p100": {Kind: Quantile, Q: 1}, "rate": {Kind: Rate}} {
		if got, err := ParseMeasure(s); err != nil || got != want {
			t.Errorf("ParseMeasure(%q) = %v, %v; want %v", s, got, err, want)
		}
		if m, _ := ParseMeasure(want.String()); m != want {
			t.Errorf("%v does not read back from its String %q", want, want.String())
		}
	}
	if _, err := New(newConfig(t), Limits{MaxKeys: -1}); err == nil {
		t.Error("New with max_keys -1 succeeded")
	}
}

func TestLimits(t *testing.T) {
	_, srcs := pipeline(t)
	ctx := context.Background()
	f := func(lim Limits, q RangeQuery, limit string) {
		t.Helper()
		_, err := newLocal(t, newConfig(t), lim).Range(ctx, srcs, q)
		var le *LimitError
		switch {
		case limit == "" && err != nil:
			t.Errorf("limits %+v, %+v: %v", lim, q, err)
		case limit == "":
		case !errors.As(err, &le) || le.Limit != limit || !errors.Is(err, ErrLimit):
			t.Errorf("limits %+v, %+v: %v, want a %s error", lim, q, err, limit)
		}
	}
	byKey := []string{"endpoint", "method", "region"}
	// 6 endpoints x 2 methods x 3 regions = 36 keys; 2h17m = 137 minutes.
	f(Limits{MaxKeys: 36}, RangeQuery{Aggregation: "req_1m", GroupBy: byKey, From: t0, To: t0 + 3*hour, Step: 3 * hour}, "")
	f(Limits{MaxKeys: 35}, RangeQuery{Aggregation: "req_1m", GroupBy: byKey, From: t0, To: t0 + 3*hour, Step: 3 * hour}, limitKeys)
	f(Limits{MaxPoints: 137}, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 137*minute}, "")
	f(Limits{MaxPoints: 136}, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 137*minute}, limitPoints)     // steps alone
	f(Limits{MaxPoints: 137}, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 137*minute + 1}, limitPoints) // one step more
	f(Limits{MaxPoints: 2 * 36}, RangeQuery{Aggregation: "req_1m", GroupBy: byKey, From: t0, To: t0 + 2*hour, Step: hour}, "")
	f(Limits{MaxPoints: 2*36 - 1}, RangeQuery{Aggregation: "req_1m", GroupBy: byKey, From: t0, To: t0 + 2*hour, Step: hour}, limitPoints)
	f(Limits{MaxPoints: 1}, RangeQuery{Aggregation: "req_1m", From: math.MinInt64, To: maxStart}, limitPoints)
}

// TestMergeAcrossStores checks that answers from each store, merged, equal the
// answer read from all stores at once, and that a partition read twice is refused.
func TestMergeAcrossStores(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{})
	_, srcs := pipeline(t)
	for _, by := range [][]string{nil, {"region"}, {"endpoint", "method", "region"}} {
		q := RangeQuery{Aggregation: "req_1m", GroupBy: by, From: t0, To: t0 + 3*hour, Step: 20 * minute, Measures: []Measure{{Kind: Quantile, Q: 0.99}}}
		whole := mustRange(t, l, srcs, q)
		merged := mustRange(t, l, srcs[:1], q)
		for i := 1; i < len(srcs); i++ {
			if err := merged.Merge(mustRange(t, l, srcs[i:i+1], q), l.Limits()); err != nil {
				t.Fatal(err)
			}
		}
		if !sameRange(whole, merged) {
			t.Errorf("group_by %v: merged answers differ from the whole", by)
		}
		if err := merged.Merge(mustRange(t, l, srcs[:1], q), l.Limits()); err == nil {
			t.Errorf("merging partition 0 twice succeeded")
		}
	}
}

func sameRange(a, b *RangeResult) bool {
	if len(a.Series) != len(b.Series) || a.StreamTime != b.StreamTime || !slices.Equal(a.Partitions, b.Partitions) {
		return false
	}
	p99 := Measure{Kind: Quantile, Q: 0.99}
	for i := range a.Series {
		x, y := a.Series[i], b.Series[i]
		if !slices.Equal(x.Key, y.Key) || len(x.Points) != len(y.Points) {
			return false
		}
		for j := range x.Points {
			p, q := x.Points[j], y.Points[j]
			if p.Agg.Count != q.Agg.Count || p.Value(p99) != q.Value(p99) || p.Windows != q.Windows || p.Open != q.Open || p.Complete != q.Complete {
				return false
			}
		}
	}
	return true
}

func TestValues(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{MaxKeys: 4})
	_, srcs := pipeline(t)
	ctx := context.Background()
	f := func(q ValuesQuery, want []string, truncated bool) {
		t.Helper()
		q.Aggregation = "req_1m"
		got, err := l.Values(ctx, srcs, q)
		if err != nil {
			t.Fatalf("Values(%+v): %v", q, err)
		}
		if !slices.Equal(got.Values, want) || got.Truncated != truncated {
			t.Errorf("Values(%+v) = %q truncated %v, want %q %v", q, got.Values, got.Truncated, want, truncated)
		}
	}
	f(ValuesQuery{Dimension: "region"}, []string{"ap", "eu", "us"}, false)
	f(ValuesQuery{Dimension: "endpoint"}, []string{"/a", "/b", "/c", "/users"}, true)
	f(ValuesQuery{Dimension: "endpoint", Limit: 2}, []string{"/a", "/b"}, true)
	f(ValuesQuery{Dimension: "endpoint", Prefix: "/u"}, []string{"/users", "/users/x"}, false)
	f(ValuesQuery{Dimension: "endpoint", Prefix: "/", Filters: []Matcher{{"endpoint", Regexp, "/[a-c]"}}}, []string{"/a", "/b", "/c"}, false)
	f(ValuesQuery{Dimension: "method", Filters: []Matcher{{"endpoint", Equal, "/none"}}}, []string{}, false)
	if _, err := l.Values(ctx, srcs, ValuesQuery{Aggregation: "req_1m", Dimension: "region", Limit: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("limit 5 above max_keys 4: %v", err)
	}
	if _, err := l.Values(ctx, srcs, ValuesQuery{Aggregation: "req_1m", Dimension: "status"}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("unknown dimension: %v", err)
	}
	// Merged per store: the same first values.
	merged, _ := l.Values(ctx, srcs[:1], ValuesQuery{Aggregation: "req_1m", Dimension: "endpoint"})
	for i := 1; i < len(srcs); i++ {
		o, _ := l.Values(ctx, srcs[i:i+1], ValuesQuery{Aggregation: "req_1m", Dimension: "endpoint"})
		if err := merged.Merge(o); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(merged.Values, []string{"/a", "/b", "/c", "/users"}) || !merged.Truncated {
		t.Errorf("merged values %q truncated %v", merged.Values, merged.Truncated)
	}
}

func TestLatest(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{})
	evs, srcs := pipeline(t)
	got, err := l.Latest(context.Background(), srcs, LatestQuery{Aggregation: "req_1m", Filters: []Matcher{{"region", Equal, "eu"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 12 {
		t.Fatalf("%d keys, want 12", len(got.Keys))
	}
	for _, k := range got.Keys {
		st := srcs[k.Partition].StreamTime
		// Brute force: the key's window starts, split at the owner's stream time.
		starts := map[int64]int{}
		for i := range evs {
			if e := &evs[i]; keyOf(e.dims[:]) == keyOf(k.Key) {
				starts[e.t-e.t%minute]++
			}
		}
		var closed, open []int64
		for s := range starts {
			if st >= s+minute+10_000 {
				closed = append(closed, s)
			} else {
				open = append(open, s)
			}
		}
		sort.Slice(open, func(i, j int) bool { return open[i] < open[j] })
		if len(closed) == 0 || k.Closed == nil || k.Closed.Start != slices.Max(closed) || k.Closed.Partial || int(k.Closed.Agg.Count) != starts[k.Closed.Start] {
			t.Errorf("key %q: latest closed %+v, want start %v", k.Key, k.Closed, closed)
		}
		if len(k.Open) != len(open) {
			t.Errorf("key %q: %d open windows, want %d", k.Key, len(k.Open), len(open))
			continue
		}
		for i, w := range k.Open {
			if w.Start != open[i] || !w.Partial || int(w.Agg.Count) != starts[w.Start] {
				t.Errorf("key %q: open window %+v, want start %d with %d events", k.Key, w, open[i], starts[open[i]])
			}
		}
	}
}

func TestTopK(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{})
	evs, srcs := pipeline(t)
	ctx := context.Background()
	f := func(q TopKQuery) {
		t.Helper()
		q.Aggregation, q.From, q.To = "req_1m", t0, t0+2*hour
		got, err := l.TopK(ctx, srcs, q)
		if err != nil {
			t.Fatal(err)
		}
		if got.Uncut != (len(q.GroupBy) > 0) {
			t.Errorf("%+v: uncut %v", q, got.Uncut)
		}
		got.Cut()
		by := q.GroupBy
		if len(by) == 0 {
			by = []string{"endpoint", "method", "region"}
		}
		idx := make([]int, len(by))
		for i, d := range by {
			idx[i] = dimIndex(d)
		}
		ref := reference(evs, minute, func(*ev) bool { return true }, idx, t0, t0+2*hour, 2*hour)
		type kv struct {
			key string
			v   float64
		}
		var want []kv
		for k, ps := range ref {
			p := ps[t0]
			v := float64(p.count)
			if q.Measure.Kind == ErrorRatio {
				v = float64(p.serr) / float64(p.count)
			}
			want = append(want, kv{k, v})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].v != want[j].v {
				return (want[i].v > want[j].v) != q.Bottom
			}
			return want[i].key < want[j].key
		})
		want = want[:min(q.K, len(want))]
		if len(got.Entries) != len(want) {
			t.Fatalf("%+v: %d entries, want %d", q, len(got.Entries), len(want))
		}
		for i, e := range got.Entries {
			if math.Abs(e.Value-want[i].v) > 1e-12 || (keyOf(e.Key) != want[i].key && e.Value != want[i].v) {
				t.Errorf("%+v: #%d = %q %v, want %q %v", q, i, e.Key, e.Value, want[i].key, want[i].v)
			}
			if !e.Complete || e.Windows == 0 {
				t.Errorf("%+v: #%d not complete, or no windows: %+v", q, i, e)
			}
		}
	}
	f(TopKQuery{Measure: Measure{Kind: Count}, K: 10})
	f(TopKQuery{Measure: Measure{Kind: Count}, K: 3, Bottom: true})
	f(TopKQuery{Measure: Measure{Kind: ErrorRatio}, K: 5})
	f(TopKQuery{Measure: Measure{Kind: Count}, K: 2, GroupBy: []string{"region"}})
	f(TopKQuery{Measure: Measure{Kind: Count}, K: 100})

	// Per-store answers merged, then cut, equal the whole answer, under a
	// group-by that spreads keys over stores.
	q := TopKQuery{Aggregation: "req_1m", From: t0, To: t0 + 2*hour, Measure: Measure{Kind: Quantile, Q: 0.99}, K: 2, GroupBy: []string{"region"}}
	whole, _ := l.TopK(ctx, srcs, q)
	merged, _ := l.TopK(ctx, srcs[:1], q)
	for i := 1; i < len(srcs); i++ {
		o, _ := l.TopK(ctx, srcs[i:i+1], q)
		if err := merged.Merge(o, l.Limits()); err != nil {
			t.Fatal(err)
		}
	}
	merged.Cut()
	whole.Cut()
	if len(merged.Entries) != 2 || len(whole.Entries) != 2 {
		t.Fatalf("entries: merged %d, whole %d", len(merged.Entries), len(whole.Entries))
	}
	for i := range merged.Entries {
		if !slices.Equal(merged.Entries[i].Key, whole.Entries[i].Key) || merged.Entries[i].Value != whole.Entries[i].Value {
			t.Errorf("#%d: merged %q %v, whole %q %v", i, merged.Entries[i].Key, merged.Entries[i].Value, whole.Entries[i].Key, whole.Entries[i].Value)
		}
	}
	for _, k := range []int{0, -1, DefaultMaxKeys + 1} {
		if _, err := l.TopK(ctx, srcs, TopKQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Measure: Measure{Kind: Count}, K: k}); err == nil {
			t.Errorf("k = %d accepted", k)
		}
	}
}

func TestCanceled(t *testing.T) {
	l := newLocal(t, newConfig(t), Limits{})
	_, srcs := pipeline(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Range(ctx, srcs, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 3*hour}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled query: %v", err)
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
