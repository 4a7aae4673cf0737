package query

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

// stores opens n stores of each kind, closed at the end of the test.
func storeKinds(t *testing.T, n int) map[string][]store.Store {
	t.Helper()
	kinds := map[string][]store.Store{}
	for i := 0; i < n; i++ {
		m := store.NewMemory()
		r, err := store.OpenRocks(t.TempDir(), store.RocksOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(); r.Close() })
		kinds["memory"] = append(kinds["memory"], m)
		kinds["rocks"] = append(kinds["rocks"], r)
	}
	return kinds
}

// TestRangeMatchesEvents writes random events through the real engine into
// three stores per kind and checks range answers against the raw events:
// counts exact, quantiles within the sketch's bound of the exact quantile of
// the merged range, for every group-by, filter and step tried.
func TestRangeMatchesEvents(t *testing.T) {
	c := newConfig(t)
	l := newLocal(t, c, Limits{})
	r := rand.New(rand.NewPCG(1, 2))
	evs := randomEvents(r, 30_000, t0, 2*hour+17*minute)
	for kind, stores := range storeKinds(t, 3) {
		srcs := runPipeline(t, c, stores, evs, 997)
		t.Run(kind, func(t *testing.T) {
			f := func(name string, filters []Matcher, match func(*ev) bool, by []string, from, to, step int64) {
				t.Helper()
				t.Run(name, func(t *testing.T) {
					q := RangeQuery{Aggregation: "req_1m", Filters: filters, GroupBy: by, From: from, To: to, Step: step,
						Measures: []Measure{{Kind: Quantile, Q: 0.99}, {Kind: Count}}}
					got := mustRange(t, l, srcs, q)
					if step == 0 {
						step = minute
					}
					idx := make([]int, len(by))
					for i, d := range by {
						idx[i] = dimIndex(d)
					}
					want := reference(evs, minute, match, idx, from, to, step)
					if len(got.Series) != len(want) {
						t.Fatalf("%d series, want %d", len(got.Series), len(want))
					}
					for _, s := range got.Series {
						ref := want[keyOf(s.Key)]
						if len(s.Points) != len(ref) {
							t.Errorf("series %q: %d points, want %d", s.Key, len(s.Points), len(ref))
						}
						for i := range s.Points {
							p := &s.Points[i]
							rp := ref[p.Start]
							if rp == nil {
								t.Errorf("series %q: point at %d not in the events", s.Key, p.Start)
								continue
							}
							checkPoint(t, fmt.Sprintf("series %q at +%dm", s.Key, (p.Start-t0)/minute), p, rp, []float64{0.5, 0.9, 0.99, 0.999, 1})
						}
					}
				})
			}
			all := func(*ev) bool { return true }
			f("one key 1m", []Matcher{{"endpoint", Equal, "/users"}, {"method", Equal, "GET"}, {"region", Equal, "eu"}},
				func(e *ev) bool { return e.dims == [3]string{"/users", "GET", "eu"} }, []string{"endpoint"}, t0, t0+hour, 0)
			f("all keys merged 1h", nil, all, nil, t0, t0+2*hour, hour)
			f("all keys merged, unaligned", nil, all, nil, t0+7*minute, t0+2*hour+3*minute, 25*minute)
			f("by key 1h", nil, all, []string{"endpoint", "method", "region"}, t0, t0+3*hour, hour)
			f("by region 5m", nil, all, []string{"region"}, t0+hour, t0+2*hour, 5*minute)
			f("by method, region reversed", nil, all, []string{"region", "method"}, t0, t0+3*hour, 30*minute)
			f("not equal", []Matcher{{"region", NotEqual, "eu"}}, func(e *ev) bool { return e.dims[2] != "eu" }, []string{"endpoint"}, t0, t0+3*hour, hour)
			re := regexp.MustCompile(`^(?:/users.*)$`)
			f("regex", []Matcher{{"endpoint", Regexp, "/users.*"}}, func(e *ev) bool { return re.MatchString(e.dims[0]) }, []string{"endpoint"}, t0, t0+3*hour, 20*minute)
			f("not regex and equal", []Matcher{{"endpoint", NotRegexp, "/users.*"}, {"method", Equal, "POST"}},
				func(e *ev) bool { return !re.MatchString(e.dims[0]) && e.dims[1] == "POST" }, nil, t0, t0+3*hour, minute)
			f("nothing", []Matcher{{"endpoint", Equal, "/none"}}, func(*ev) bool { return false }, nil, t0, t0+3*hour, hour)
		})
	}
}

// TestRangeComplete checks the complete and open marks against each task's
// stream time: the last windows of every task are still open.
func TestRangeComplete(t *testing.T) {
	c := newConfig(t)
	l := newLocal(t, c, Limits{})
	evs := randomEvents(rand.New(rand.NewPCG(3, 4)), 5000, t0, hour)
	stores := []store.Store{store.NewMemory(), store.NewMemory()}
	srcs := runPipeline(t, c, stores, evs, 100)
	got := mustRange(t, l, srcs, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 2*hour})
	least := min(srcs[0].StreamTime, srcs[1].StreamTime)
	points := got.Series[0].Points
	if len(points) != 60 {
		t.Fatalf("%d points, want 60", len(points))
	}
	for _, p := range points {
		// Brute force: a window [s, s+1m) of a store is open while its stream
		// time is below s+1m+10s; the point is final once every store passed it.
		open := 0
		for _, s := range srcs {
			if s.StreamTime < p.Start+minute+10_000 {
				open += windowsOf(evs, p.Start, int(s.Partition), len(srcs))
			}
		}
		if p.Open != open {
			t.Errorf("point +%dm: %d open windows, want %d", (p.Start-t0)/minute, p.Open, open)
		}
		if want := open == 0 && least >= p.Start+minute+10_000; p.Complete != want {
			t.Errorf("point +%dm: complete %v, want %v (stream times %d, %d)", (p.Start-t0)/minute, p.Complete, want, srcs[0].StreamTime-p.Start, srcs[1].StreamTime-p.Start)
		}
	}
	if last := points[len(points)-1]; last.Complete || last.Open == 0 {
		t.Errorf("last point %+v: want open and not complete", last)
	}
	if first := points[0]; !first.Complete || first.Open != 0 {
		t.Errorf("first point %+v: want complete", first)
	}
}

// windowsOf counts the keys of partition part with a window at start.
func windowsOf(evs []ev, start int64, part, parts int) int {
	keys := map[[3]string]bool{}
	for i := range evs {
		e := &evs[i]
		if e.t-e.t%minute == start && partitionOf(e, parts) == part {
			keys[e.dims] = true
		}
	}
	return len(keys)
}

// TestReadAllConcurrent: an instance's stores read concurrently (GOMAXPROCS 4)
// give the answers reading them one after the other gives (GOMAXPROCS 1), for
// range and top-k queries; and the limits hold for the merged answer though no
// store alone reaches them.
func TestReadAllConcurrent(t *testing.T) {
	c := newConfig(t)
	evs := randomEvents(rand.New(rand.NewPCG(7, 8)), 20_000, t0, 2*hour)
	srcs := runPipeline(t, c, storeKinds(t, 5)["rocks"], evs, 997)
	l := newLocal(t, c, Limits{})
	p99 := []Measure{{Kind: Quantile, Q: 0.99}, {Kind: Count}, {Kind: ErrorRatio}}
	queries := []RangeQuery{
		{Aggregation: "req_1m", GroupBy: []string{"endpoint", "method", "region"}, From: t0, To: t0 + 2*hour, Measures: p99},
		{Aggregation: "req_1m", From: t0, To: t0 + 2*hour, Step: hour, Measures: p99},
		{Aggregation: "req_1m", GroupBy: []string{"region"}, From: t0, To: t0 + 2*hour, Step: 5 * minute, Measures: p99},
	}
	withProcs := func(n int, fn func() string) string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
		return fn()
	}
	for i, q := range queries {
		answer := func() string {
			r := mustRange(t, l, srcs, q)
			var b strings.Builder
			fmt.Fprintln(&b, r.Partitions, r.StreamTime)
			for _, s := range r.Series {
				for _, p := range s.Points {
					fmt.Fprintln(&b, s.Key, p.Start, p.Windows, p.Open, p.Complete, p.Resolution, p.Value(p99[0]), p.Value(p99[1]), p.Value(p99[2]))
				}
			}
			return b.String()
		}
		seq, par := withProcs(1, answer), withProcs(4, answer)
		if seq != par || len(seq) < 100 {
			t.Fatalf("query %d: concurrent answer\n%s\nsequential\n%s", i, par, seq)
		}
	}
	topk := func() string {
		r, err := l.TopK(context.Background(), srcs, TopKQuery{Aggregation: "req_1m", From: t0, To: t0 + 2*hour, Measure: p99[0], K: 5})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, e := range r.Entries {
			fmt.Fprintln(&b, e.Key, e.Value, e.Agg.Count, e.Windows, e.Open, e.Complete)
		}
		return b.String()
	}
	if seq, par := withProcs(1, topk), withProcs(4, topk); seq != par {
		t.Fatalf("top-k: concurrent %s, sequential %s", par, seq)
	}

	byKey := mustRange(t, l, srcs, queries[0])
	keys, points := len(byKey.Series), 0
	for _, s := range byKey.Series {
		points += len(s.Points)
	}
	for _, src := range srcs {
		one := mustRange(t, l, []Source{src}, queries[0])
		if len(one.Series) >= keys-1 {
			t.Fatalf("one store holds %d of %d keys: the limit test needs them spread", len(one.Series), keys)
		}
	}
	for _, lim := range []Limits{{MaxKeys: keys - 1}, {MaxPoints: points - 1}} {
		tight := newLocal(t, c, lim)
		for _, procs := range []int{1, 4} {
			err := errors.New("")
			withProcs(procs, func() string { _, err = tight.Range(context.Background(), srcs, queries[0]); return "" })
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("limits %+v, GOMAXPROCS %d: error %v, want a LimitError", lim, procs, err)
			}
		}
	}
}
