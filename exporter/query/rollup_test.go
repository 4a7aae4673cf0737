package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// rollupConfig is testConfig with 5-minute and 1-hour rollups of req_1m.
func rollupConfig(t testing.TB) *config.Config {
	t.Helper()
	yml := strings.Replace(testConfig, "    retention: 48h\n", "    retention: 48h\n    rollups: [{resolution: 5m, retention: 48h}, {resolution: 1h, retention: 30d}]\n", 1)
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Aggregations[0].Rollups) != 2 {
		t.Fatal("no rollups in the configuration")
	}
	return c
}

// TestRollupsMatchWindows: over random ranges and steps, aligned on the
// rollups or not, with events out of order within grace (windows that took
// events after stream time passed their end) and the last hour still open,
// the answer that reads rollups has the same series, points and counts as
// the one that reads only windows and as the raw events, and its quantiles
// are within the sketch's bound of the windows' answer's (in fact equal: the
// buckets are the same) and of the exact ones.
func TestRollupsMatchWindows(t *testing.T) {
	c := rollupConfig(t)
	l := newLocal(t, c, Limits{})
	r := rand.New(rand.NewPCG(7, 8))
	from0 := t0 + 13*minute
	evs := randomEvents(r, 20_000, from0, 5*hour+17*minute)
	bound := sketch.RelativeError(sketch.DefaultSchema)
	qs := []float64{0.5, 0.99}
	kinds := storeKinds(t, 3)
	kinds["memory, one scan per level"] = storeKinds(t, 3)["memory"]
	for kind, stores := range kinds {
		srcs := runPipeline(t, c, stores, evs, 997)
		t.Run(kind, func(t *testing.T) {
			if strings.Contains(kind, "one scan") {
				// Every level read in one scan over its pieces' range, as
				// for many steps off the rollups' boundaries.
				defer func(n int) { maxScansPerLevel = n }(maxScansPerLevel)
				maxScansPerLevel = 1
			}
			steps := []int64{0, minute, 5 * minute, 7 * minute, 10 * minute, hour, 90 * minute, 2 * hour, 3 * hour}
			served := map[int64]int{} // points by resolution
			for n := range 80 {
				// Edges on the hour, on 5 minutes, or anywhere.
				var from, to int64
				switch n % 3 {
				case 0:
					from, to = t0-hour+r.Int64N(8)*hour, t0+r.Int64N(8)*hour+hour
				case 1:
					from, to = t0+r.Int64N(80)*5*minute, t0+r.Int64N(80)*5*minute+5*minute
				default:
					from, to = t0-hour+r.Int64N(8*hour), t0+r.Int64N(8*hour)+1
				}
				if from >= to {
					from, to = to-1, from+1
				}
				step := steps[r.IntN(len(steps))]
				if n%10 == 9 {
					step = to - from // one point: what top-k reads
				}
				if n < len(steps) { // every step over the whole range first
					from, to, step = t0-hour, t0+7*hour, steps[n]
				}
				var filters []Matcher
				var by []string
				match := func(*ev) bool { return true }
				switch r.IntN(3) {
				case 0:
					by = []string{"endpoint"}
				case 1:
					e, m, g := endpoints[r.IntN(len(endpoints))], methods[r.IntN(len(methods))], regions[r.IntN(len(regions))]
					filters = []Matcher{{Dim: "endpoint", Op: Equal, Value: e}, {Dim: "method", Op: Equal, Value: m}, {Dim: "region", Op: Equal, Value: g}}
					by = []string{"endpoint", "method", "region"}
					match = func(x *ev) bool { return x.dims == [3]string{e, m, g} }
				}
				q := RangeQuery{Aggregation: "req_1m", Filters: filters, GroupBy: by, From: from, To: to, Step: step,
					Measures: []Measure{{Kind: Quantile, Q: 0.99}, {Kind: Count}}}
				where := fmt.Sprintf("[%d, %d) step %d by %v filters %v", from-t0, to-t0, step, by, filters)
				auto := mustRange(t, l, srcs, q)
				q.MaxResolution = minute
				base := mustRange(t, l, srcs, q)
				if len(auto.Series) != len(base.Series) {
					t.Fatalf("%s: %d series from rollups, %d from windows", where, len(auto.Series), len(base.Series))
				}
				if step == 0 {
					step = minute
				}
				idx := make([]int, len(by))
				for i, d := range by {
					idx[i] = dimIndex(d)
				}
				ref := reference(evs, minute, match, idx, from, to, step)
				for i, s := range auto.Series {
					bs := base.Series[i]
					if keyOf(s.Key) != keyOf(bs.Key) || len(s.Points) != len(bs.Points) {
						t.Fatalf("%s: series %v has %d points from rollups; series %v %d from windows", where, s.Key, len(s.Points), bs.Key, len(bs.Points))
					}
					for j := range s.Points {
						p, bp := &s.Points[j], &bs.Points[j]
						at := fmt.Sprintf("%s %v point %d", where, s.Key, p.Start-t0)
						if p.Start != bp.Start || p.End != bp.End || p.Complete != bp.Complete {
							t.Fatalf("%s: [%d, %d) complete %v; from windows [%d, %d) complete %v", at, p.Start, p.End, p.Complete, bp.Start, bp.End, bp.Complete)
						}
						a, b := p.Agg, bp.Agg
						if a.Count != b.Count || a.ClientErrors != b.ClientErrors || a.ServerErrors != b.ServerErrors || a.Values != b.Values ||
							(a.Values > 0 && (a.Min != b.Min || a.Max != b.Max)) || math.Abs(a.Sum-b.Sum) > 1e-9*math.Max(1, math.Abs(b.Sum)) {
							t.Errorf("%s: %+v from rollups, %+v from windows", at, *a, *b)
						}
						for _, qq := range qs {
							x, y := p.Value(Measure{Kind: Quantile, Q: qq}), bp.Value(Measure{Kind: Quantile, Q: qq})
							if !(math.IsNaN(x) && math.IsNaN(y)) && math.Abs(x-y) > bound*math.Abs(y) {
								t.Errorf("%s: q%v %v from rollups, %v from windows", at, qq, x, y)
							}
						}
						if bp.Resolution != minute {
							t.Errorf("%s: resolution %d reading windows only", at, bp.Resolution)
						}
						served[p.Resolution]++
						checkPoint(t, at, p, ref[keyOf(s.Key)][p.Start], qs)
					}
				}
			}
			t.Logf("points served by resolution (ms): %v", served)
			if served[hour] == 0 || served[5*minute] == 0 {
				t.Errorf("rollups served too little: %v", served)
			}
		})
	}
}

// An aligned query reads rollups: one window per key and step, and the hour
// that is not final yet (the last hour of events) from finer windows.
func TestRollupResolutionPerPoint(t *testing.T) {
	c := rollupConfig(t)
	l := newLocal(t, c, Limits{})
	r := rand.New(rand.NewPCG(3, 4))
	evs := randomEvents(r, 5_000, t0, 3*hour+30*minute)
	for kind, stores := range storeKinds(t, 1) {
		srcs := runPipeline(t, c, stores, evs, 500)
		t.Run(kind, func(t *testing.T) {
			f := func(step int64, filters []Matcher, want []int64) {
				t.Helper()
				res := mustRange(t, l, srcs, RangeQuery{Aggregation: "req_1m", Filters: filters, From: t0, To: t0 + 4*hour, Step: step})
				var got []int64
				for _, p := range res.Series[0].Points {
					got = append(got, p.Resolution)
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("step %d: resolutions %v, want %v", step, got, want)
				}
			}
			// Stream time is just under t0+3h30m: hours 0-2 are final; in the
			// hour from 3h, the 5-minute rollups up to 3h25m are, and after them
			// the one-minute windows serve. A point says the coarsest it read.
			f(hour, nil, []int64{hour, hour, hour, 5 * minute})
			f(2*hour, nil, []int64{hour, hour})
			f(30*minute, nil, []int64{5 * minute, 5 * minute, 5 * minute, 5 * minute, 5 * minute, 5 * minute, 5 * minute})
			// Three final hours: one rollup window per key and hour.
			q := RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + 3*hour, Step: 3 * hour}
			keys := len(mustRange(t, l, srcs, RangeQuery{Aggregation: "req_1m", GroupBy: []string{"endpoint", "method", "region"}, From: t0, To: t0 + 3*hour, Step: 3 * hour}).Series)
			if n := mustRange(t, l, srcs, q).Series[0].Points[0].Windows; n != 3*keys {
				t.Errorf("three final hours of %d keys merged %d windows, want %d rollup windows", keys, n, 3*keys)
			}
			q.MaxResolution = 5 * minute
			if n := mustRange(t, l, srcs, q).Series[0].Points[0].Windows; n <= 3*keys {
				t.Errorf("5-minute rollups: %d windows", n)
			}
			q.MaxResolution = -1
			if _, err := l.Range(context.Background(), srcs, q); err == nil || !strings.Contains(err.Error(), "max_resolution") {
				t.Errorf("a negative max_resolution: %v", err)
			}
		})
	}
}
