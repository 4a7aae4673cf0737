package metrics

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/stream"
)

// TestCommittedNotBlockedByScrape: a scrape whose reader stalls mid-gather (a
// slow client, a huge exposition) must not hold back the processing loop, which
// hands every committed transaction to the view.
func TestCommittedNotBlockedByScrape(t *testing.T) {
	v := NewView(testConfig(t))
	a := group("/a")
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000,
		Closed: []engine.Change{withKey(window(0, 5, 0, 10), a)}, Totals: []engine.Change{withKey(total(5, 0, 0, 10), a)}}})
	c := NewCollector(v)

	ch := make(chan prometheus.Metric) // nobody reads it after the first metric
	collected := make(chan struct{})
	go func() {
		c.Collect(ch)
		close(collected)
	}()
	<-ch // the scrape is under way, and now blocked sending its next metric

	done := make(chan struct{})
	go func() {
		v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2*minute + 10000,
			Closed: []engine.Change{withKey(window(minute, 7, 0, 10), a)}, Totals: []engine.Change{withKey(total(12, 0, 0, 10), a)}}})
		v.Active(1, minute, nil)
		v.Inactive(1)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // deadlock detection, not a speed test
		t.Fatal("Committed, Active and Inactive did not return while a scrape was blocked mid-gather")
	}

	// The stalled scrape finishes with the state it started from; the next one
	// sees the new commit.
	var old []prometheus.Metric
drain:
	for {
		select {
		case m := <-ch:
			old = append(old, m)
		case <-collected:
			break drain
		}
	}
	if n := countValue(t, old, "kwindow_endpoint_1m_window_requests", 5); n != 1 {
		t.Errorf("the stalled scrape has %d window_requests of 5 (its snapshot), want 1", n)
	}
	text := gatherText(t, c)
	if got, _ := sample(t, text, `kwindow_endpoint_1m_window_requests{endpoint="/a"}`); got != 7 {
		t.Errorf("window_requests after the commit = %v, want 7", got)
	}
	if got, _ := sample(t, text, `kwindow_endpoint_1m_requests_total{endpoint="/a"}`); got != 12 {
		t.Errorf("requests_total after the commit = %v, want 12", got)
	}
}

// countValue counts the metrics of family name in ms with gauge value want.
func countValue(t *testing.T, ms []prometheus.Metric, name string, want float64) int {
	t.Helper()
	n := 0
	for _, m := range ms {
		if !strings.Contains(m.Desc().String(), `"`+name+`"`) {
			continue
		}
		var d dtoMetric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		if d.GetGauge().GetValue() == want {
			n++
		}
	}
	return n
}

// TestConcurrentScrapes runs scrapes while the view changes (run with -race):
// every scrape succeeds and sees, for each key, a window count that some commit
// published.
func TestConcurrentScrapes(t *testing.T) {
	v := NewView(testConfig(t))
	c := NewCollector(v)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	keys := []string{group("/a"), group("/b"), group("/c")}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var commits []stream.Commit
			for p := int32(0); p < 2; p++ {
				cm := stream.Commit{Partition: p, StreamTime: (i+1)*minute + 10000}
				for _, k := range keys {
					cm.Closed = append(cm.Closed, withKey(window(i*minute, 3, 1, 10), k))
					cm.Totals = append(cm.Totals, withKey(total(uint64(3*(i+1)), 0, uint64(i+1), 10), k))
				}
				commits = append(commits, cm)
			}
			v.Committed(commits)
			if i%5 == 0 {
				v.Active(2, (i+1)*minute, nil)
				v.Inactive(2)
			}
		}
	})
	for range 50 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "kwindow_endpoint_1m_window_requests" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if got := m.GetGauge().GetValue(); got != 6 {
					t.Fatalf("window_requests %v, want 6 (3 events on each of 2 partitions)", got)
				}
			}
		}
	}
	close(stop)
	wg.Wait()
}

// TestCollectSorted: Collect sends every family sorted as the registry sorts
// it, whatever the dimension names, so the registry's sort is a single pass.
func TestCollectSorted(t *testing.T) {
	for _, dims := range []string{"[endpoint]", "[region]", "[a, z]", "[endpoint, status]", "[zone]", "[]"} {
		t.Run(dims, func(t *testing.T) {
			v := NewView(parseConfig(t, fmt.Sprintf(`
events:
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions: [{name: endpoint}, {name: status}, {name: region}, {name: a}, {name: z}, {name: zone}]
aggregations:
  - name: agg
    group_by: %s
    window: {type: tumbling, size: 1m}
    measures: [count, errors, error_ratio]
    quantiles: [0.5]
    anomaly: {measures: [p50, count, error_ratio], warmup: 1}
`, dims)))
			n := len(v.cfg.Aggregations[0].GroupBy)
			for w := int64(0); w < 3; w++ {
				var commits []stream.Commit
				for _, p := range []int32{0, 2, 10, 11} {
					cm := stream.Commit{Partition: p, StreamTime: (w + 1) * minute}
					for i := range 12 {
						// Keys share values of their first dimensions: i in base 3,
						// the last dimension taking the rest.
						vals := make([][]byte, n)
						for j, x := range vals {
							d := (i * 5) % 12 // not in order of the values
							for range j {
								d /= 3
							}
							if j < n-1 {
								d %= 3
							}
							vals[j] = append(x, fmt.Sprint(d)...)
						}
						g := string(storeGroup(vals...))
						cm.Closed = append(cm.Closed, withKey(window(w*minute, 3+i, i%2, 10), g))
						cm.Totals = append(cm.Totals, withKey(total(uint64(3+i), 1, 1, 10), g))
					}
					commits = append(commits, cm)
				}
				v.Committed(commits)
			}
			ch := make(chan prometheus.Metric, 1<<14)
			NewCollector(v).Collect(ch)
			close(ch)
			byFamily := map[string][]*dtoMetric{}
			var order []string
			for m := range ch {
				d := new(dtoMetric)
				if err := m.Write(d); err != nil {
					t.Fatal(err)
				}
				name := m.Desc().String()
				if _, ok := byFamily[name]; !ok {
					order = append(order, name)
				}
				byFamily[name] = append(byFamily[name], d)
			}
			for _, name := range order {
				ms := byFamily[name]
				for i := 1; i < len(ms); i++ {
					if cmpPairs(ms[i-1].Label, ms[i].Label) >= 0 {
						t.Errorf("%s: series %d (%v) not after series %d (%v)", name, i, ms[i].Label, i-1, ms[i-1].Label)
						break
					}
				}
			}
			if len(byFamily) < 8 {
				t.Errorf("%d families collected, want every family", len(byFamily))
			}
		})
	}
}

// TestHistogramAsClientGolang: a running total's native histogram is what
// client_golang's NewConstNativeHistogram makes of the sketch downscaled by the
// sketch package, for any schema and sign of values.
func TestHistogramAsClientGolang(t *testing.T) {
	values := map[string][]float64{
		"empty":    nil,
		"one":      {0.01},
		"zero":     {0, 0, 0.5},
		"negative": {-3, -0.002, 0, 0.004, 7, -1e-9},
		"spread":   spread(5000),
		"far":      {1e-30, 1e30, 1, 1.5, 1.6}, // the sketch lowers its own schema
		"gaps":     {1, 1.2, 4, 9, 16.5, 1000},
	}
	var b histBuilder // shared, as the view shares it: no state leaks between sketches
	for name, vs := range values {
		for _, schema := range []int32{-4, 0, 3, 6, 8} {
			t.Run(fmt.Sprintf("%s/schema=%d", name, schema), func(t *testing.T) {
				s := newSketch(6)
				for _, x := range vs {
					s.Add(x)
				}
				var h hist
				b.build(&h, s, schema)
				var got dtoHistogram
				h.fill(&got)

				want := referenceHistogram(t, s, schema)
				if got.GetSchema() != want.GetSchema() || got.GetSampleCount() != want.GetSampleCount() ||
					got.GetSampleSum() != want.GetSampleSum() || got.GetZeroCount() != want.GetZeroCount() ||
					got.GetZeroThreshold() != want.GetZeroThreshold() {
					t.Fatalf("got schema %d count %d sum %v zero %d/%v, want %d %d %v %d/%v", got.GetSchema(), got.GetSampleCount(),
						got.GetSampleSum(), got.GetZeroCount(), got.GetZeroThreshold(), want.GetSchema(), want.GetSampleCount(),
						want.GetSampleSum(), want.GetZeroCount(), want.GetZeroThreshold())
				}
				if g, w := fmt.Sprint(got.GetPositiveSpan(), got.GetPositiveDelta()), fmt.Sprint(want.GetPositiveSpan(), want.GetPositiveDelta()); g != w {
					t.Errorf("positive buckets\n got %s\nwant %s", g, w)
				}
				if g, w := fmt.Sprint(got.GetNegativeSpan(), got.GetNegativeDelta()), fmt.Sprint(want.GetNegativeSpan(), want.GetNegativeDelta()); g != w {
					t.Errorf("negative buckets\n got %s\nwant %s", g, w)
				}
			})
		}
	}
}

func spread(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 0.02 * math.Exp(math.Sin(float64(i))*4)
	}
	return out
}
