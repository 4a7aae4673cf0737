package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
)

// withQuantiles is a tumbling 1m aggregation by endpoint, grace 10s, with a sketch.
func withQuantiles(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: ep, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTotalComesBack: a key that leaves memory and comes back continues its running
// total exactly: every event of the key ever, with its latest event time.
func TestTotalComesBack(t *testing.T) {
	type ev struct {
		t       int64
		status  int
		latency float64
	}
	f := func(name string, withLoad bool, comeback int64, wantLoads int) {
		t.Helper()
		st := newMemStore(t)
		var e *Engine
		if withLoad {
			e = NewWithOptions(withQuantiles(t), Options{LoadTotal: st.load})
		} else {
			e = New(withQuantiles(t))
		}
		events := []ev{{1000, 200, 10}, {2000, 503, 30}, {comeback, 404, 20}, {comeback + 1, 200, 40}}
		for _, x := range events[:2] {
			e.Process(req(x.t, "/a", x.status, x.latency))
		}
		e.Process(req(3000, "/b", 200, 1))
		st.apply(e.Flush())
		e.AdvanceTo(comeback - 1)
		st.apply(e.Flush())
		if comeback > 70_000 { // [0,1m) closed at 1m10s: /a and /b left memory
			n := 0
			e.Totals(0, func(string, *aggregate.Aggregate) { n++ })
			if want := map[bool]int{true: 0, false: 2}[withLoad]; n != want {
				t.Errorf("%s: %d totals in memory with every key gone, want %d", name, n, want)
			}
		}
		for _, x := range events[2:] {
			e.Process(req(x.t, "/a", x.status, x.latency))
		}
		st.apply(e.Flush())
		v, ok := st.total(0, group("/a"))
		if !ok {
			t.Fatalf("%s: no stored total for /a", name)
		}
		a := v.Agg
		if a.Count != 4 || a.ClientErrors != 1 || a.ServerErrors != 1 || a.Values != 4 || a.Sum != 0.1 ||
			a.Min != 0.01 || a.Max != 0.04 || a.Sketch.Count() != 4 || v.Last != comeback+1 {
			t.Errorf("%s: total of /a %d events (4xx %d, 5xx %d, %d values, sum %v, min %v, max %v, sketch %d), last %d;"+
				" want 4 (1, 1, 4, 0.1, 0.01, 0.04, 4), %d", name, a.Count, a.ClientErrors, a.ServerErrors, a.Values,
				a.Sum, a.Min, a.Max, a.Sketch.Count(), v.Last, comeback+1)
		}
		if st.loads != wantLoads {
			t.Errorf("%s: LoadTotal called %d times, want %d", name, st.loads, wantLoads)
		}
	}
	// Back while [0,1m) is still open: the total never left memory. (A key new in
	// memory is looked up once: /a and /b at their first events.)
	f("in memory", true, 61_000, 2)
	// Back after [0,1m) closed: the total comes back from the store.
	f("from the store", true, 130_000, 3)
	// Without LoadTotal the total waits in memory.
	f("without LoadTotal", false, 130_000, 0)
}

// TestLoadTotalError: a failing LoadTotal is reported by Err, not a panic, and the
// engine hands out nothing more that could be committed.
func TestLoadTotalError(t *testing.T) {
	boom := errors.New("disk on fire")
	calls := 0
	load := func(agg int, group []byte) (aggregate.Value, error) {
		if calls++; calls == 1 {
			return aggregate.Value{}, nil // a new key: nothing stored
		}
		return aggregate.Value{}, boom
	}
	e := NewWithOptions(withQuantiles(t), Options{LoadTotal: load})
	e.Process(req(1000, "/a", 200, 1))
	e.AdvanceTo(70_000)
	if f := e.Flush(); len(f.Changes) != 2 || len(f.Closed) != 1 || e.Err() != nil {
		t.Fatalf("first flush: %d changes, %d closed, error %v; want 2, 1, nil", len(f.Changes), len(f.Closed), e.Err())
	}
	if late := e.Process(req(500, "/a", 200, 1)); late != 0 { // late, but its total cannot load
		t.Errorf("late mask %b after a failed load, want 0", late)
	}
	err := e.Err()
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `of ep key ["/a"]`) {
		t.Fatalf("Err() = %v, want it to wrap %v and name the aggregation and the key", err, boom)
	}
	e.Process(req(80_000, "/b", 200, 1))
	e.AdvanceTo(200_000)
	if f := e.Flush(); len(f.Changes) != 0 || len(f.Closed) != 0 {
		t.Errorf("flush after the error: %d changes, %d closed, want none", len(f.Changes), len(f.Closed))
	}
	if calls != 2 || e.Err() != err {
		t.Errorf("%d LoadTotal calls, error now %v: want 2 and the first error", calls, e.Err())
	}
}

// TestKeysLeaveMemory: with LoadTotal, nothing of a key stays in memory once its
// windows closed; the store has every total.
func TestKeysLeaveMemory(t *testing.T) {
	for _, withLoad := range []bool{true, false} {
		st := newMemStore(t)
		c := oneAgg(t, 100_000)
		var e *Engine
		if withLoad {
			e = NewWithOptions(c, Options{LoadTotal: st.load})
		} else {
			e = New(c)
		}
		for i := range 1000 {
			e.Process(req(int64(i), fmt.Sprintf("/k%d", i), 200, 1))
		}
		e.AdvanceTo(1 << 50)
		st.apply(e.Flush())
		if late := e.Process(req(1, "/late-only", 200, 1)); late != 1 { // a key with no window
			t.Fatalf("late mask %b, want 1", late)
		}
		st.apply(e.Flush())
		inMemory := 0
		e.Totals(0, func(string, *aggregate.Aggregate) { inMemory++ })
		wantInMemory := map[bool]int{true: 0, false: 1001}[withLoad]
		if s := e.Stats(0); s.Keys != 0 || s.Windows != 0 || inMemory != wantInMemory {
			t.Errorf("LoadTotal %v: %d keys, %d windows, %d totals in memory; want 0, 0, %d", withLoad, s.Keys, s.Windows, inMemory, wantInMemory)
		}
		totals := 0
		for _, s := range st.m {
			if s.start == TotalStart {
				totals++
			}
		}
		if v, _ := st.get(0, group("/late-only"), TotalStart); totals != 1001 || v.Agg == nil || v.Agg.Count != 1 {
			t.Errorf("LoadTotal %v: %d stored totals, /late-only %+v; want 1001, 1 event", withLoad, totals, v.Agg)
		}
	}
}
