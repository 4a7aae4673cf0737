package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/window"
)

func hoppingConfig(t *testing.T, size, advance, grace string, quantiles bool) *config.Config {
	t.Helper()
	q := ""
	if quantiles {
		q = ", quantiles: [0.5, 0.99]"
	}
	c, err := config.Parse("t.yml", []byte(fmt.Sprintf(`
aggregations:
  - {name: hop, group_by: [endpoint], window: {type: hopping, size: %s, advance: %s}, grace: %s%s}
`, size, advance, grace, q)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// paneStore is a stage-2 store of one aggregation: windows and totals by
// (group, start), pane variants by (variant, group, start).
type paneStore struct {
	t      *testing.T
	values map[string][]byte
}

func (s *paneStore) key(pane int, group string, start int64) string {
	return fmt.Sprintf("%d|%s|%d", pane, group, start)
}

func (s *paneStore) apply(f *Flush) {
	for _, c := range f.Changes {
		k := s.key(c.Pane, c.Group, c.Start)
		if c.Value.Agg == nil {
			delete(s.values, k)
			continue
		}
		b, err := c.Value.AppendBinary(nil)
		if err != nil {
			s.t.Fatal(err)
		}
		s.values[k] = b
	}
}

func (s *paneStore) decode(b []byte) aggregate.Value {
	var v aggregate.Value
	if err := v.UnmarshalBinary(b); err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s *paneStore) loadTotal(agg int, group []byte) (aggregate.Value, error) {
	if b, ok := s.values[s.key(0, string(group), TotalStart)]; ok {
		return s.decode(b), nil
	}
	return aggregate.Value{}, nil
}

// restore builds a panes engine from the store at stream time st, as a stage-2
// task does after a crash.
func (s *paneStore) restore(c *config.Config, st int64) *Engine {
	e := NewWithOptions(c, Options{LoadTotal: s.loadTotal, Panes: true})
	e.AdvanceTo(st)
	for k, b := range s.values {
		var pane int
		var group string
		var start int64
		if _, err := fmt.Sscanf(k, "%d|%s", &pane, &group); err != nil {
			s.t.Fatal(err)
		}
		i, j := len(fmt.Sprint(pane))+1, len(k)
		for k[j-1] != '|' {
			j--
		}
		group = k[i : j-1]
		fmt.Sscan(k[j:], &start)
		if pane > 0 {
			e.RestorePane(0, []byte(group), start, pane-1, s.decode(b))
		} else if start != TotalStart {
			e.Restore(0, []byte(group), start, s.decode(b))
		}
	}
	return e
}

// total is the running total of group as the store holds it, made whole from
// the stored pane variants (ResolveTotal).
func (s *paneStore) total(group string) aggregate.Value {
	v, _ := s.loadTotal(0, []byte(group))
	return ResolveTotal(v, func(from int64, fn func(aggregate.Value)) {
		for k, b := range s.values {
			var pane int
			var start int64
			fmt.Sscanf(k, "%d|", &pane)
			j := len(k)
			for k[j-1] != '|' {
				j--
			}
			fmt.Sscan(k[j:], &start)
			if pane > 0 && k[len(fmt.Sprint(pane))+1:j-1] == group && start >= from {
				fn(s.decode(b))
			}
		}
	})
}

// totalResult is what a total must match: counts and quantiles exactly, the
// sum to rounding (the parts add up in another order); not the latest event
// time, which Engine.Totals does not give.
func totalResult(v aggregate.Value) windowResult {
	if v.Agg == nil {
		return windowResult{}
	}
	r := resultOf(v)
	r.sum, r.last = math.Round(r.sum*1e6)/1e6, 0
	return r
}

type windowResult struct {
	count, values uint64
	sum           float64
	last          int64
	p99           float64
}

func resultOf(v aggregate.Value) windowResult {
	r := windowResult{count: v.Agg.Count, values: v.Agg.Values, sum: v.Agg.Sum, last: v.Last}
	if v.Agg.Sketch != nil && v.Agg.Sketch.Count() > 0 {
		r.p99 = v.Agg.Sketch.Quantile(0.99)
	}
	return r
}

// TestPanesMatchWindows: a merging engine that keeps hopping windows as panes
// (Options.Panes) publishes exactly the windows (counts, sums, latest event
// times and quantiles: the same sketch buckets) that one adding every part to
// its windows does, for random parts of random stage-1 From, stream times
// moving in steps, flushes at random, and restarts from its store at random
// commits; its open windows (FlushOpen) are the other's; the panes it keeps
// stored are only those an open window needs.
func TestPanesMatchWindows(t *testing.T) {
	for _, tc := range []struct{ size, advance, grace string }{
		{"10s", "4s", "3s"}, // panes of 2s
		{"5m", "1m", "10s"},
		{"6s", "6s", "0s"}, // one window per pane
	} {
		t.Run(tc.size+"/"+tc.advance, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				testPanesMatchWindows(t, hoppingConfig(t, tc.size, tc.advance, tc.grace, seed%2 == 0), seed)
			}
		})
	}
}

func testPanesMatchWindows(t *testing.T, c *config.Config, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	spec := c.Aggregations[0].WindowSpec()
	g := spec.PaneSize()
	store := &paneStore{t: t, values: map[string][]byte{}}
	ref := New(c) // windows, totals kept in memory
	e := NewWithOptions(c, Options{LoadTotal: store.loadTotal, Panes: true})
	want, got := map[string]windowResult{}, map[string]windowResult{}
	keys := []string{group("/a"), group("/b"), group("/c")}
	st := int64(1_000_000)
	ref.AdvanceTo(st)
	e.AdvanceTo(st)
	var refLate, late uint64
	restarts := 0
	for step := 0; step < 400; step++ {
		// Parts as stage 1 sends them: panes up to a window and a grace
		// behind stream time, each with the start of one of its windows.
		for range rng.IntN(6) {
			t0 := st - rng.Int64N(spec.Size+spec.Grace+2*g) + rng.Int64N(g)
			pane := t0 - ((t0%g)+g)%g
			wins := spec.Assign(nil, pane)
			from := wins[rng.IntN(len(wins))].Start
			if rng.IntN(3) > 0 {
				from = wins[0].Start // most parts: nothing closed at stage 1
			}
			a := aggregate.New(*c.Sketch.Schema, len(c.Aggregations[0].Quantiles) > 0)
			n := 1 + rng.IntN(5)
			last := pane
			for range n {
				at := pane + rng.Int64N(g)
				last = max(last, at)
				v := float64(1 + rng.IntN(2000))
				a.Count++
				a.Values++
				a.Sum += v
				a.Min, a.Max = min(a.Min, v), max(a.Max, v)
				if a.Sketch != nil {
					a.Sketch.Add(v)
				}
			}
			k := keys[rng.IntN(len(keys))]
			p := Part{Start: pane, End: pane + g, From: from, Last: last, Agg: a}
			q := p
			q.Agg = a.Clone()
			if ref.Merge(0, k, &p) {
				refLate++
			}
			if e.Merge(0, k, &q) {
				late++
			}
		}
		if rng.IntN(3) == 0 {
			st += rng.Int64N(spec.Advance)
			ref.AdvanceTo(st)
			e.AdvanceTo(st)
		}
		if rng.IntN(2) == 0 {
			continue
		}
		rf := ref.Flush()
		for _, ch := range rf.Closed {
			want[fmt.Sprint(ch.Group, ch.Start)] = resultOf(ch.Value)
		}
		refOpen := map[string]windowResult{}
		for _, ch := range rf.Changes {
			if ch.Start != TotalStart && !spec.Closed(window.Window{Start: ch.Start, End: ch.Value.End}, st) {
				refOpen[fmt.Sprint(ch.Group, ch.Start)] = resultOf(ch.Value)
			}
		}
		f := e.FlushOpen()
		for _, ch := range f.Closed {
			k := fmt.Sprint(ch.Group, ch.Start)
			if _, dup := got[k]; dup {
				t.Fatalf("seed %d: window %s published twice", seed, k)
			}
			got[k] = resultOf(ch.Value)
		}
		open := map[string]windowResult{}
		for _, ch := range f.Open {
			open[fmt.Sprint(ch.Group, ch.Start)] = resultOf(ch.Value)
		}
		if fmt.Sprint(open) != fmt.Sprint(refOpen) {
			t.Fatalf("seed %d step %d: open windows\n got %v\nwant %v", seed, step, open, refOpen)
		}
		store.apply(f)
		// Stored: every closed window, and no pane whose windows all closed.
		for _, ch := range f.Closed {
			if _, ok := store.values[store.key(0, ch.Group, ch.Start)]; !ok {
				t.Fatalf("seed %d: closed window %d not stored", seed, ch.Start)
			}
		}
		for k := range store.values {
			var pane int
			var start int64
			fmt.Sscanf(k, "%d|", &pane)
			fmt.Sscan(k[slices.Index([]byte(k), '|')+1+len(keys[0])+1:], &start)
			if pane > 0 {
				wins := spec.Assign(nil, start)
				if spec.Closed(wins[len(wins)-1], st) {
					t.Fatalf("seed %d: pane %d stored after its last window closed", seed, start)
				}
			}
		}
		// Running totals: handed out whole, and stored as a base that the
		// stored panes from its End on make whole, as the reference's.
		refTotals := map[string]windowResult{}
		ref.Totals(0, func(g string, a *aggregate.Aggregate) {
			refTotals[g] = totalResult(aggregate.Value{Agg: a})
		})
		for _, ch := range f.Totals {
			if r := totalResult(ch.Value); r != refTotals[ch.Group] {
				t.Fatalf("seed %d step %d: Flush.Totals of %q %+v, want %+v", seed, step, ch.Group, r, refTotals[ch.Group])
			}
		}
		for g, want := range refTotals {
			if r := totalResult(store.total(g)); r != want {
				t.Fatalf("seed %d step %d: stored total of %q %+v, want %+v", seed, step, g, r, want)
			}
		}
		if rng.IntN(10) == 0 { // crash after the commit: rebuild from the store
			if rng.IntN(2) == 0 {
				// Written by the version before: totals stored whole.
				for _, g := range keys {
					if v := store.total(g); v.Agg != nil {
						b, err := v.AppendBinary(nil)
						if err != nil {
							t.Fatal(err)
						}
						store.values[store.key(0, g, TotalStart)] = b
					}
				}
			}
			e = store.restore(c, st)
			restarts++
		}
	}
	st += spec.Size + spec.Grace + spec.Advance
	ref.AdvanceTo(st)
	e.AdvanceTo(st)
	for _, ch := range ref.Flush().Closed {
		want[fmt.Sprint(ch.Group, ch.Start)] = resultOf(ch.Value)
	}
	f := e.Flush()
	for _, ch := range f.Closed {
		got[fmt.Sprint(ch.Group, ch.Start)] = resultOf(ch.Value)
	}
	store.apply(f)
	if len(want) < 10 {
		t.Fatalf("seed %d: only %d windows closed: the test exercises little", seed, len(want))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("seed %d (%d restarts): windows differ\n got %v\nwant %v", seed, restarts, got, want)
	}
	if late != refLate {
		t.Errorf("seed %d: %d late merges, want %d", seed, late, refLate)
	}
	for k := range store.values {
		if k[0] != '0' {
			t.Errorf("seed %d: pane %s still stored after every window closed", seed, k)
		}
	}
}
