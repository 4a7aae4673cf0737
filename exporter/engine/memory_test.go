package engine

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
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
