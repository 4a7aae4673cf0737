package metrics

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// viewBytesPerKey is the heap a view of cfg holds per key once keys keys of its
// first aggregation (group_by endpoint and status) have a running total and a
// complete window, each key on one of 6 partitions.
func viewBytesPerKey(t *testing.T, yml string, withSketch bool, keys int) float64 {
	t.Helper()
	cfg := parseConfig(t, yml)
	groups := make([]string, keys)
	for i := range groups {
		groups[i] = string(store.AppendGroup(nil, []byte("/api/endpoint/"+strconv.Itoa(i/10)), []byte(strconv.Itoa(200+i%10))))
	}
	total, window := aggregate.New(6, withSketch), aggregate.New(6, withSketch)
	for i := range 100 {
		v := 0.001 * float64(1+i%37)
		total.Count++
		total.Values++
		window.Count++
		window.Values++
		if withSketch {
			total.Sketch.Add(v)
			window.Sketch.Add(v)
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := NewView(cfg)
	for p := range 6 {
		v.Active(int32(p), engine.NoTime, nil)
	}
	for w := int64(0); w < 2; w++ {
		commits := make([]stream.Commit, 6)
		for p := range commits {
			commits[p] = stream.Commit{Partition: int32(p), StreamTime: (w+1)*minute + 10000}
		}
		for _, g := range groups {
			c := &commits[ownerOf(g, 6)]
			c.Totals = append(c.Totals, engine.Change{Group: g, Start: engine.TotalStart,
				Value: aggregate.Value{End: engine.TotalStart, Last: (w+1)*minute - 1, Agg: total}})
			c.Closed = append(c.Closed, engine.Change{Group: g, Start: w * minute,
				Value: aggregate.Value{End: (w + 1) * minute, Last: (w+1)*minute - 1, Agg: window}})
		}
		v.Committed(commits)
	}
	commits := []stream.Commit(nil)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	runtime.KeepAlive(commits)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(keys)
}

// TestViewKeyMemory: what the /metrics view holds per key of the default
// aggregations' shapes. A count-only key (status_5m: 9,000 of the 10,000 keys at
// issue 13's soak) holds its labels, running total and newest window, none of
// them with room for the histogram, quantiles, scores or added labels it never
// has: 631 bytes, 917 before.
func TestViewKeyMemory(t *testing.T) {
	const countOnly = `
aggregations:
  - {name: status_5m, group_by: [endpoint, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s, measures: [count]}
`
	const withQuantiles = `
aggregations:
  - name: endpoint_1m
    group_by: [endpoint, status]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count, errors, error_ratio, sum, min, max]
    quantiles: [0.5, 0.95, 0.99]
    anomaly: {measures: [p99, error_ratio, count], alpha: 0.1, warmup: 10}
`
	count := viewBytesPerKey(t, countOnly, false, 5000)
	quant := viewBytesPerKey(t, withQuantiles, true, 2000)
	t.Logf("view bytes per key: count-only %.0f, with quantiles %.0f", count, quant)
	if count > 700 {
		t.Errorf("a count-only key holds %.0f bytes in the view, want at most 700", count)
	}
}
