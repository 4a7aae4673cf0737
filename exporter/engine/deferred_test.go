package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/window"
)

// refTotal is a running total computed apart from the engine: every event of
// the key, late or not.
type refTotal struct {
	count, server, values uint64
	sum, min, max         float64
	last                  int64
	sketch                *sketch.Sketch
}

func (r *refTotal) add(ev *event.Event) {
	r.count++
	if ev.Status >= 500 {
		r.server++
	}
	r.values++
	r.sum += ev.Value
	r.min, r.max = min(r.min, ev.Value), max(r.max, ev.Value)
	r.last = max(r.last, ev.Time)
	r.sketch.Add(ev.Value)
}

func (r *refTotal) check(t *testing.T, what string, v aggregate.Value, withSketch bool) {
	t.Helper()
	a := v.Agg
	if a == nil {
		t.Fatalf("%s: no total, want %d events", what, r.count)
	}
	ok := a.Count == r.count && a.ServerErrors == r.server && a.Values == r.values &&
		math.Abs(a.Sum-r.sum) <= 1e-9*math.Abs(r.sum) && a.Min == r.min && a.Max == r.max && v.Last == r.last
	if withSketch {
		ok = ok && a.Sketch.Count() == r.count && a.Quantile(0.5) == r.sketch.Quantile(0.5) && a.Quantile(0.99) == r.sketch.Quantile(0.99)
	}
	if !ok {
		t.Fatalf("%s: %d events (5xx %d, %d values, sum %v, min %v, max %v, last %d), want %d (%d, %d, %v, %v, %v, %d)",
			what, a.Count, a.ServerErrors, a.Values, a.Sum, a.Min, a.Max, v.Last,
			r.count, r.server, r.values, r.sum, r.min, r.max, r.last)
	}
}

// TestDeferredTotals: the running totals of tumbling aggregations are stored as a
// base that leaves the key's open windows out (totals.go). Events come out of
// order (some late for their window), keys go quiet and come back, engines are
// restored from the store at random points, as a task restores them, one of them
// from a store whose totals were written whole (by the version before). After
// every flush, each total Flush.Totals hands out, and each key's total as the
// store holds it made whole (ResolveTotal over its stored windows), equals every
// event of the key so far; and a key's total is stored only at a flush where it
// is new, a window of it closed, or it had an event late for its window.
// Stage 2's path (Merge, parts) runs the same, with late parts both marked late
// by stage 1 and not (a window closed at stage 2).
func TestDeferredTotals(t *testing.T) {
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: ep, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5, 0.99]}
  - {name: st, group_by: [status], window: {type: tumbling, size: 30s}, grace: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, merging := range []bool{false, true} {
		for seed := range uint64(6) {
			t.Run(fmt.Sprintf("merge=%v/seed=%d", merging, seed), func(t *testing.T) {
				testDeferredTotals(t, c, merging, seed)
			})
		}
	}
}

func testDeferredTotals(t *testing.T, c *config.Config, merging bool, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 77))
	st := newMemStore(t)
	refs := make([]map[string]*refTotal, len(c.Aggregations))
	for i := range refs {
		refs[i] = map[string]*refTotal{}
	}
	streamTime := int64(NoTime)
	newEngine := func() *Engine {
		e := NewWithOptions(c, Options{LoadTotal: st.load})
		e.AdvanceTo(streamTime)
		for _, s := range st.m {
			if s.start == TotalStart || s.start < e.RestoreFrom(s.agg) {
				continue
			}
			v, _ := st.get(s.agg, s.group, s.start)
			e.Restore(s.agg, []byte(s.group), s.start, v)
		}
		return e
	}
	e := newEngine()
	late := map[string]bool{} // agg|group with an event late for its window since the last flush
	seen := map[string]bool{} // agg|group with a stored total
	saves, handed := 0, 0
	legacy := map[string]bool{}       // agg|group whose total the version before stored
	legacyUntil := map[string]int64{} // and until when it may be stored at any flush
	flush := func() {
		f := e.Flush()
		if err := e.Err(); err != nil {
			t.Fatal(err)
		}
		closed := map[string]bool{}
		for _, ch := range f.Closed {
			closed[fmt.Sprint(ch.Agg, "|", ch.Group)] = true
		}
		for _, ch := range f.Changes {
			if ch.Start != TotalStart {
				continue
			}
			id := fmt.Sprint(ch.Agg, "|", ch.Group)
			if legacy[id] && legacyUntil[id] == 0 {
				// Read from a total stored whole: stored again at once, and
				// the key's windows in memory then take events into the base
				// until they close.
				legacyUntil[id] = f.StreamTime + minute + 10_000 + 1
			}
			if seen[id] && !closed[id] && !late[id] && f.StreamTime >= legacyUntil[id] {
				t.Fatalf("total of %s stored at a flush where no window of it closed and it had no late event", id)
			}
			seen[id] = true
			saves++
		}
		st.apply(f)
		for _, ch := range f.Totals {
			handed++
			refs[ch.Agg][ch.Group].check(t, fmt.Sprintf("Flush.Totals %s %q", c.Aggregations[ch.Agg].Name, ch.Group), ch.Value, ch.Agg == 0)
		}
		for i, m := range refs {
			for g, r := range m {
				v, ok := st.total(i, g)
				if !ok {
					t.Fatalf("%s %q: no stored total", c.Aggregations[i].Name, g)
				}
				r.check(t, fmt.Sprintf("stored total of %s %q", c.Aggregations[i].Name, g), v, i == 0)
			}
		}
		streamTime = f.StreamTime
		clear(late)
	}
	specs := []window.Spec{c.Aggregations[0].WindowSpec(), c.Aggregations[1].WindowSpec()}
	var parts [2]*aggregate.Aggregate
	for i := range 8000 {
		ts := int64(i)*40 + int64(rng.IntN(25_000))
		ep := fmt.Sprintf("/e%d", rng.IntN(5))
		if i%9 == 0 {
			ep = fmt.Sprintf("/q%d", i/700%3) // active for a while, then quiet
		}
		ev := req(ts, ep, []int{200, 404, 503}[rng.IntN(3)], float64(1+rng.IntN(900)))
		// The engine's stream time before this event decides its lateness.
		for a := range c.Aggregations {
			g := group(ep)
			if a == 1 {
				g = group(fmt.Sprint(ev.Status))
			}
			r := refs[a][g]
			if r == nil {
				r = &refTotal{min: math.Inf(1), max: math.Inf(-1), last: NoTime, sketch: sketch.New(6)}
				refs[a][g] = r
			}
			r.add(ev)
			start := ts - ts%specs[a].Size
			w := window.Window{Start: start, End: start + specs[a].Size}
			if specs[a].Closed(w, max(e.StreamTime(), ts)) {
				late[fmt.Sprint(a, "|", g)] = true
			}
			if merging {
				parts[a] = aggregate.New(6, a == 0)
				parts[a].Add(ev)
				p := &Part{Start: w.Start, End: w.End, From: math.MinInt64, Last: ts, Agg: parts[a]}
				// Stage 1 marks most late events late; the others find their
				// window closed at stage 2.
				if late[fmt.Sprint(a, "|", g)] && rng.IntN(2) == 0 {
					p.Late = true
				}
				e.AdvanceTo(ts)
				e.Merge(a, g, p)
			}
		}
		if !merging {
			e.Process(ev)
		}
		if rng.IntN(40) == 0 {
			flush()
		}
		if rng.IntN(150) == 0 {
			flush()
			if seed%2 == 0 && rng.IntN(2) == 0 {
				// The version before stored totals whole (in half the runs: a
				// whole total also hides a window left out of a base).
				for i, m := range refs {
					for g := range m {
						v, _ := st.total(i, g)
						b, err := v.AppendBinary(nil)
						if err != nil {
							t.Fatal(err)
						}
						st.m[storeKey(i, g, TotalStart)] = stored{i, g, TotalStart, b}
						id := fmt.Sprint(i, "|", g)
						legacy[id], legacyUntil[id] = true, 0
					}
				}
			}
			e = newEngine()
		}
	}
	e.AdvanceTo(math.MaxInt64 / 2)
	flush()
	t.Logf("%d totals stored, %d handed out", saves, handed)
}
