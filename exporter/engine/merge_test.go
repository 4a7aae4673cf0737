package engine

import (
	"errors"
	"math"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
)

// part is a part of n events at time at, each with value v seconds and status
// 200, for the tumbling 1m window of at.
func part(at int64, n uint64, v float64) *Part {
	a := aggregate.New(6, false)
	for range n {
		a.Count++
		a.Values++
		a.Sum += v
		a.Min, a.Max = min(a.Min, v), max(a.Max, v)
	}
	start := at / minute * minute
	return &Part{Start: start, End: start + minute, From: math.MinInt64, Last: at, Agg: a}
}

// TestMergeMaxKeys: parts of keys beyond max_keys merge into the overflow key, and
// Stats.Overflowed counts their events; keys come back once their windows closed.
func TestMergeMaxKeys(t *testing.T) {
	f := func(maxKeys int, wantOver uint64, wantOverflowCount uint64) {
		t.Helper()
		e := New(oneAgg(t, maxKeys))
		for i, ep := range []string{"/a", "/b", "/c"} {
			e.Merge(0, group(ep), part(1000, uint64(i+1), 0.5))
		}
		e.Merge(0, group("/a"), part(2000, 4, 0.5)) // a key already held is never refused
		if s := e.Stats(0); s.Overflowed != wantOver {
			t.Errorf("max_keys %d: %d events overflowed, want %d", maxKeys, s.Overflowed, wantOver)
		}
		e.AdvanceTo(70_000)
		res := closed(e, e.Flush())
		if got := res["ep|"+group(OverflowValue)+"|0"].Agg; (got == nil) != (wantOverflowCount == 0) || got != nil && got.Count != wantOverflowCount {
			t.Errorf("max_keys %d: overflow window %+v, want %d events", maxKeys, got, wantOverflowCount)
		}
		if a := res["ep|"+group("/a")+"|0"].Agg; a == nil || a.Count != 5 {
			t.Errorf("max_keys %d: /a's window %+v, want 5 events", maxKeys, a)
		}
		// Every window closed: a new key is admitted.
		e.Merge(0, group("/d"), part(80_000, 1, 0.5))
		if s := e.Stats(0); s.Overflowed != wantOver {
			t.Errorf("max_keys %d: /d overflowed after every window closed", maxKeys)
		}
	}
	f(100, 0, 0)
	f(2, 3, 3) // /c's 3 events
	f(1, 5, 5) // /b's 2 and /c's 3
}

// TestMergeTotals: Merge adds every part to the running total, a late part too
// (and only there), loading a key's total back with LoadTotal when it returns.
func TestMergeTotals(t *testing.T) {
	st := newMemStore(t)
	e := NewWithOptions(withQuantiles(t), Options{LoadTotal: st.load})
	e.Merge(0, group("/a"), part(1000, 2, 1))
	st.apply(e.Flush())
	e.AdvanceTo(200_000) // the key leaves memory with its window
	st.apply(e.Flush())
	if n := len(e.aggs[0].keys); n != 0 {
		t.Fatalf("%d keys in memory", n)
	}
	late := part(5000, 3, 2)
	late.Late, late.Start, late.End = true, 0, 0
	if e.Merge(0, group("/a"), late) {
		t.Error("a late part was reported merged late")
	}
	e.Merge(0, group("/a"), part(200_500, 1, 4))
	f := e.Flush()
	st.apply(f)
	total, _ := st.total(0, group("/a"))
	windows := 0
	for _, ch := range f.Changes {
		if ch.Start != TotalStart {
			windows++
		}
	}
	if st.loads != 2 || total.Agg == nil || total.Agg.Count != 6 || total.Agg.Sum != 12 || total.Last != 200_500 || windows != 1 {
		t.Errorf("%d loads, total %+v (%+v), %d windows changed: want 2 loads (the key came in twice), 6 events summing 12, last 200500, 1 window",
			st.loads, total, total.Agg, windows)
	}
	if s := e.Stats(0); s.LateMerges != 0 {
		t.Errorf("LateMerges %d", s.LateMerges)
	}
	// A part for a window already closed (a watermark that went backwards).
	if !e.Merge(0, group("/b"), part(1000, 1, 1)) || e.Stats(0).LateMerges != 1 {
		t.Errorf("a part for a closed window: not reported, LateMerges %d", e.Stats(0).LateMerges)
	}
}

// TestMergeKeepsNoReference: the part's aggregate can be reused after Merge.
func TestMergeKeepsNoReference(t *testing.T) {
	e := New(withQuantiles(t))
	p := part(1000, 1, 1)
	p.Agg.Sketch = nil
	e.Merge(0, group("/a"), p)
	p.Agg.Count, p.Agg.Sum = 100, 100
	e.AdvanceTo(70_000)
	if a := closed(e, e.Flush())["ep|"+group("/a")+"|0"].Agg; a == nil || a.Count != 1 || a.Sum != 1 {
		t.Errorf("window %+v after the part changed, want 1 event summing 1", a)
	}
}

// TestMergeErr: once LoadTotal fails, Merge does nothing.
func TestMergeErr(t *testing.T) {
	fail := errors.New("disk on fire")
	loads := 0
	e := NewWithOptions(withQuantiles(t), Options{LoadTotal: func(int, []byte) (aggregate.Value, error) {
		loads++
		return aggregate.Value{}, fail
	}})
	e.Merge(0, group("/a"), part(1000, 1, 1))
	if !errors.Is(e.Err(), fail) {
		t.Fatalf("Err() = %v", e.Err())
	}
	e.Merge(0, group("/b"), part(1000, 1, 1))
	if f := e.Flush(); loads != 1 || len(f.Changes) != 0 || len(e.aggs[0].keys) > 1 {
		t.Errorf("after the error: %d loads, %d changes, %d keys", loads, len(f.Changes), len(e.aggs[0].keys))
	}
}

// TestMergeHoppingFrom: a pane goes to the windows holding it that start at or
// after From, and the engine's stream time never moves with Merge.
func TestMergeHoppingFrom(t *testing.T) {
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: h, group_by: [endpoint], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := New(c)
	a := aggregate.New(6, false)
	a.Count = 2
	e.Merge(0, group("/a"), &Part{Start: 4 * minute, End: 5 * minute, From: 2 * minute, Last: 4*minute + 5, Agg: a})
	if e.StreamTime() != NoTime {
		t.Errorf("Merge moved stream time to %d", e.StreamTime())
	}
	e.AdvanceTo(math.MaxInt64)
	got := map[int64]uint64{}
	for _, ch := range e.Flush().Closed {
		got[ch.Start] = ch.Value.Agg.Count
		if ch.Value.Last != 4*minute+5 {
			t.Errorf("window at %d: last %d", ch.Start, ch.Value.Last)
		}
	}
	want := map[int64]uint64{2 * minute: 2, 3 * minute: 2, 4 * minute: 2} // not 0 and 1 minute
	if len(got) != len(want) || got[2*minute] != 2 || got[3*minute] != 2 || got[4*minute] != 2 {
		t.Errorf("windows %v, want %v", got, want)
	}
}
