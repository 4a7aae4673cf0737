package engine

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/reuse"
)

// TestKeyMemory: 20,000 keys of a count-only aggregation, one event each in an
// open window, hold at most 480 bytes of heap each (the key, its map entry and
// group key, its window's aggregate, its expiry: 405 measured), and keys of an
// aggregation with quantiles their sketches too (1,767 measured: two sketches'
// first 64 buckets). Before count-only keys left out the sketch header they
// never use, they held 565 bytes each.
func TestKeyMemory(t *testing.T) {
	f := func(quantiles string, most uint64) {
		t.Helper()
		c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: a, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s`+quantiles+`}
`))
		if err != nil {
			t.Fatal(err)
		}
		const n = 20_000
		evs := make([]string, n)
		for i := range evs {
			evs[i] = fmt.Sprintf("/api/e%05d", i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e := New(c)
		for i, ep := range evs {
			e.Process(req(int64(1000+i), ep, 200, 12))
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		keys := 0
		e.Totals(0, func(string, *aggregate.Aggregate) { keys++ })
		if keys != n {
			t.Fatalf("%d keys in memory, want %d", keys, n)
		}
		if per := (after.HeapAlloc - before.HeapAlloc) / n; per > most {
			t.Errorf("aggregation {%s}: %d bytes per key, want at most %d", quantiles, per, most)
		}
		runtime.KeepAlive(e)
	}
	f("", 480)
	f(", quantiles: [0.99]", 1900)
}

// TestFlushReleasesClosedWindows: once a minute boundary has closed every key's
// window, the next flush keeps none of those windows' aggregates alive (its
// arrays, reused, held them until written over), and the one after it no
// longer keeps the boundary's large arrays.
func TestFlushReleasesClosedWindows(t *testing.T) {
	e := New(withQuantiles(t))
	const keys = 2000
	for i := range keys {
		e.Process(req(int64(1000+i), fmt.Sprintf("/api/e%04d", i), 200, 12))
	}
	e.Flush()
	e.Process(req(70_001, "/api/e0000", 200, 12)) // closes [0,1m) of every key
	f := e.Flush()
	if len(f.Closed) != keys {
		t.Fatalf("%d windows closed, want %d", len(f.Closed), keys)
	}
	check := func(f *Flush, arrays bool) {
		t.Helper()
		if len(f.Closed) != 0 || len(f.Changes) != 1 || len(f.Totals) != 1 {
			t.Fatalf("%d closed, %d changes, %d totals, want 0, 1 and 1 (a window; its running total is stored as it closes)",
				len(f.Closed), len(f.Changes), len(f.Totals))
		}
		for name, s := range map[string][]Change{"Changes": f.Changes, "Totals": f.Totals, "Closed": f.Closed, "Open": f.Open} {
			if arrays && cap(s) > reuse.Floor {
				t.Errorf("%s: %d changes in an array of %d kept", name, len(s), cap(s))
			}
			for i, c := range s[len(s):cap(s)] {
				if c.Value.Agg != nil || c.Group != "" {
					t.Fatalf("%s[%d], past the flush's %d changes, still holds %q's aggregate", name, len(s)+i, len(s), c.Group)
				}
			}
		}
	}
	e.Process(req(70_002, "/api/e0001", 200, 12))
	check(e.Flush(), false)
	e.Process(req(70_003, "/api/e0002", 200, 12))
	check(e.Flush(), true)
}
