package metrics

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/stream"
)

// totalOf is the running total of the given latencies (seconds).
func totalOf(values []float64) engine.Change {
	a := aggregate.New(6, true)
	for _, v := range values {
		a.Add(&event.Event{Value: v, HasValue: true, Class: event.OK})
	}
	return engine.Change{Start: engine.TotalStart, Value: aggregate.Value{End: engine.TotalStart, Agg: a}}
}

// TestClassicBuckets: the classic buckets of a scrape, for a Prometheus without
// native histograms, against the counts of the raw values, computed here by
// brute force. The README's bound: a sketch bucket straddling a bound b counts
// above it, so the count at le=b lies between the exact counts at b/base and at
// b (base 2^(1/64) at sketch schema 6); the +Inf bucket is the count.
func TestClassicBuckets(t *testing.T) {
	f := func(name, buckets string, values []float64, want []float64) {
		t.Helper()
		yml := `
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    quantiles: [0.99]
`
		if buckets != "" {
			yml += "metrics: {classic_buckets: " + buckets + "}\n"
		}
		v := NewView(parseConfig(t, yml))
		v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute,
			Totals: []engine.Change{withKey(totalOf(values), group("/a"))}}})
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(v))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var h *dtoHistogram
		for _, mf := range mfs {
			if mf.GetName() == "kwindow_endpoint_1m_latency_seconds" {
				h = mf.GetMetric()[0].GetHistogram()
			}
		}
		if h == nil {
			t.Fatalf("%s: no latency histogram", name)
		}
		if h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 {
			t.Errorf("%s: the native buckets are gone (schema %d, spans %v)", name, h.GetSchema(), h.GetPositiveSpan())
		}
		got := h.GetBucket()
		if len(got) != len(want) {
			t.Fatalf("%s: %d classic buckets, want %d (%v)", name, len(got), len(want), want)
		}
		exact := func(b float64) uint64 {
			var n uint64
			for _, x := range values {
				if x <= b {
					n++
				}
			}
			return n
		}
		base := math.Exp2(1.0 / 64)
		for i, b := range got {
			le, n := b.GetUpperBound(), b.GetCumulativeCount()
			if le != want[i] {
				t.Errorf("%s: bucket %d has le=%v, want %v", name, i, le, want[i])
			}
			lo, hi := exact(le/base*(1-1e-12)), exact(le)
			if n < lo || n > hi {
				t.Errorf("%s: le=%v counts %d, want between %d (exact at le/%.6f) and %d (exact at le)", name, le, n, lo, base, hi)
			}
		}
		if h.GetSampleCount() != uint64(len(values)) {
			t.Errorf("%s: count %d, want %d", name, h.GetSampleCount(), len(values))
		}
	}

	r := rand.New(rand.NewPCG(3, 4))
	logNormal := make([]float64, 50000)
	for i := range logNormal {
		logNormal[i] = 0.05 * math.Exp(1.2*r.NormFloat64())
	}
	def := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	f("default bounds, log-normal latencies", "", logNormal, def)
	f("fine bounds", "[0.049, 0.0495, 0.05, 0.0505, 0.051]", logNormal, []float64{0.049, 0.0495, 0.05, 0.0505, 0.051})
	f("one bound", "[0.1]", logNormal, []float64{0.1})
	f("none", "[]", logNormal, nil)
	// Values on bucket edges (powers of two) count exactly.
	edges := []float64{0.25, 0.25, 0.5, 1, 1, 1, 2}
	f("edges", "[0.25, 0.5, 1, 2]", edges, []float64{0.25, 0.5, 1, 2})
	f("no values below", "[0.001]", edges, []float64{0.001})
}

// TestClassicBucketsPromtool: a scrape with classic buckets, in the text format
// Prometheus reads without native histograms, passes promtool's lint.
func TestClassicBucketsPromtool(t *testing.T) {
	promtool := testtool.Path(t, "promtool", "make deps installs Debian's prometheus")
	v := NewView(testConfig(t))
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2 * minute,
		Closed: []engine.Change{withKey(window(0, 6, 1, 10), group("/a"))},
		Totals: []engine.Change{withKey(totalOf([]float64{0.001, 0.02, 0.3, 4, 40}), group("/a"))}}})
	text := gatherText(t, NewCollector(v))
	for _, line := range []string{
		`kwindow_endpoint_1m_latency_seconds_bucket{endpoint="/a",le="0.005"} 1`,
		`kwindow_endpoint_1m_latency_seconds_bucket{endpoint="/a",le="10"} 4`,
		`kwindow_endpoint_1m_latency_seconds_bucket{endpoint="/a",le="+Inf"} 5`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks %s:\n%s", line, text)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
