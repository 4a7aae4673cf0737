package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
)

// oneAgg is a configuration with one tumbling 1m aggregation by endpoint, grace
// 10s, holding at most maxKeys keys.
func oneAgg(t *testing.T, maxKeys int) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: ep, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	c.Aggregations[0].MaxKeys = maxKeys // after validation: 0 and below are tried too
	return c
}

// TestMaxKeysRecovers: max_keys bounds the keys with open windows, so keys whose
// windows closed make room for new ones. Three keys in [0,1m), then, once those
// windows have closed and been flushed, four keys in [1m,2m), /a among them again.
func TestMaxKeysRecovers(t *testing.T) {
	f := func(maxKeys int, wantOver uint64, want map[string]uint64) {
		t.Helper()
		e := New(oneAgg(t, maxKeys))
		for _, ep := range []string{"/a", "/b", "/c"} {
			e.Process(req(1000, ep, 200, 1))
		}
		e.AdvanceTo(70_000) // [0,1m) closes at 1m10s
		first := closed(e, e.Flush())
		if s := e.Stats(0); s.Keys != 0 {
			t.Errorf("max_keys %d: %d keys in memory after every window closed, want 0", maxKeys, s.Keys)
		}
		for _, ep := range []string{"/d", "/e", "/f", "/a"} {
			e.Process(req(80_000, ep, 200, 1))
		}
		if s := e.Stats(0); s.Overflowed != wantOver {
			t.Errorf("max_keys %d: %d events overflowed, want %d", maxKeys, s.Overflowed, wantOver)
		}
		e.AdvanceTo(130_000)
		second := closed(e, e.Flush())
		got := map[string]uint64{}
		for k, v := range first {
			got[k] = v.Agg.Count
		}
		for k, v := range second {
			got[k] = v.Agg.Count
		}
		wantKeys := map[string]uint64{}
		for k, n := range want {
			var ep string
			var start int64
			fmt.Sscanf(k, "%s %d", &ep, &start)
			wantKeys[fmt.Sprintf("ep|%s|%d", group(ep), start)] = n
		}
		if fmt.Sprint(got) != fmt.Sprint(wantKeys) {
			t.Errorf("max_keys %d: closed windows %v, want %v", maxKeys, got, wantKeys)
		}
	}
	o := OverflowValue
	// No room at all: every event goes to the overflow key.
	f(-1, 7, map[string]uint64{o + " 0": 3, o + " 60000": 4})
	f(0, 7, map[string]uint64{o + " 0": 3, o + " 60000": 4})
	f(1, 5, map[string]uint64{"/a 0": 1, o + " 0": 2, "/d 60000": 1, o + " 60000": 3})
	// The case of the issue: with max_keys 2, /a and /b expire and /d and /e get in.
	f(2, 3, map[string]uint64{"/a 0": 1, "/b 0": 1, o + " 0": 1, "/d 60000": 1, "/e 60000": 1, o + " 60000": 2})
	f(3, 1, map[string]uint64{"/a 0": 1, "/b 0": 1, "/c 0": 1, "/d 60000": 1, "/e 60000": 1, "/f 60000": 1, o + " 60000": 1})
	f(4, 0, map[string]uint64{"/a 0": 1, "/b 0": 1, "/c 0": 1, "/a 60000": 1, "/d 60000": 1, "/e 60000": 1, "/f 60000": 1})
	f(math.MaxInt, 0, map[string]uint64{"/a 0": 1, "/b 0": 1, "/c 0": 1, "/a 60000": 1, "/d 60000": 1, "/e 60000": 1, "/f 60000": 1})
}

// TestOverflowModel checks, on a random stream, which events go to the overflow key
// against a model of the rule: a key is held from the event that brought it in
// until stream time reaches the close time of its latest window (tumbling windows
// leave memory as they close); an event of a key not held goes to the overflow key
// when max_keys keys are held. Flushes come at random: they must not matter. Some
// events are late.
func TestOverflowModel(t *testing.T) {
	const (
		size  = 60_000
		grace = 10_000
	)
	for _, maxKeys := range []int{1, 3, 7, 20} {
		rng := rand.New(rand.NewPCG(uint64(maxKeys), 11))
		e := New(oneAgg(t, maxKeys))
		held := map[string]int64{} // key -> close time of its latest window, or MinInt64
		var st int64 = NoTime
		var over uint64
		want := map[string]uint64{} // group|start -> count, of windows that took the event
		got := map[string]uint64{}  // the same, of the windows closed
		var overTotal uint64        // the overflow key's running total
		flush := func(f *Flush) {
			for _, c := range f.Closed {
				got[fmt.Sprintf("%s|%d", c.Group, c.Start)] = c.Value.Agg.Count
			}
			for _, c := range f.Changes {
				if c.Start == TotalStart && c.Group == group(OverflowValue) {
					overTotal = c.Value.Agg.Count
				}
			}
		}
		for i := 0; i < 20000; i++ {
			ts := int64(i)*20 + int64(rng.IntN(30_000)) - 15_000 // some late by more than grace
			ep := fmt.Sprintf("/k%d", rng.IntN(30))
			if i%1000 < 300 {
				ep = fmt.Sprintf("/burst%d", i/1000) // a key that comes and goes
			}
			st = max(st, ts)
			for k, closeAt := range held {
				if st >= closeAt {
					delete(held, k)
				}
			}
			as := ep // the key the event counts under
			if _, ok := held[ep]; !ok {
				if len(held) >= maxKeys {
					over++
					as = OverflowValue
				} else {
					held[ep] = math.MinInt64
				}
			}
			start := ts - ((ts%size)+size)%size
			if closeAt := start + size + grace; st < closeAt { // not late
				want[fmt.Sprintf("%s|%d", group(as), start)]++
				if as != OverflowValue {
					held[ep] = max(held[ep], closeAt)
				}
			}
			e.Process(req(ts, ep, 200, 1))
			if rng.IntN(40) == 0 {
				flush(e.Flush())
			}
		}
		if s := e.Stats(0); s.Overflowed != over || over == 0 {
			t.Errorf("max_keys %d: %d events overflowed, model %d (want > 0)", maxKeys, s.Overflowed, over)
		}
		e.AdvanceTo(1 << 50)
		flush(e.Flush())
		if overTotal != over {
			t.Errorf("max_keys %d: running total of the overflow key %d events, model %d", maxKeys, overTotal, over)
		}
		if len(got) != len(want) {
			t.Errorf("max_keys %d: %d windows closed, model %d", maxKeys, len(got), len(want))
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("max_keys %d: window %q: count %d, model %d", maxKeys, k, got[k], n)
			}
		}
	}
}

// TestTotalLast: the running total of a key carries the latest event time of that
// key, not the stream time, so that a reader can tell idle keys from active ones.
func TestTotalLast(t *testing.T) {
	e := New(oneAgg(t, 10))
	e.Process(req(1000, "/a", 200, 1))
	e.Process(req(5000, "/a", 200, 1))
	e.Process(req(3000, "/b", 200, 1))
	e.Process(req(2000, "/a", 200, 1)) // out of order: /a's latest stays 5000
	e.Process(req(9000, "/c", 200, 1))
	check := func(want map[string]int64) {
		t.Helper()
		got := map[string]int64{}
		for _, c := range e.Flush().Totals {
			if c.Start == TotalStart {
				got[c.Group] = c.Value.Last
			}
		}
		w := map[string]int64{}
		for ep, last := range want {
			w[group(ep)] = last
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("Last of the changed totals %v, want %v", got, w)
		}
	}
	check(map[string]int64{"/a": 5000, "/b": 3000, "/c": 9000})
	e.Process(req(500, "/b", 200, 1)) // late for its window, counted in the total
	check(map[string]int64{"/b": 3000})
	e.Process(req(80_000, "/b", 200, 1))
	check(map[string]int64{"/b": 80_000})
}
