package metrics

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/stream"
)

// The benchmarks use the default endpoint_1m shape (count, errors, error ratio,
// P50/P95/P99, anomaly scores of count, error ratio and P99) at the default
// histogram schema 3, with log-normal latencies around 20 ms like the load
// generator's, so each running total's native histogram has realistic buckets.
const benchConfig = `
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count, errors, error_ratio]
    quantiles: [0.5, 0.95, 0.99]
    anomaly: {measures: [count, error_ratio, p99], warmup: 2}
metrics: {idle_windows: 5}
`

func benchCfg(b *testing.B) *config.Config {
	b.Helper()
	c, err := config.Parse("bench.yml", []byte(benchConfig))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// benchAggs returns n aggregates of events latencies (seconds, log-normal), 1 %
// 4xx and 0.3 % 5xx.
func benchAggs(n, events int, seed uint64) []*aggregate.Aggregate {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]*aggregate.Aggregate, n)
	for i := range out {
		a := aggregate.New(6, true)
		for j := 0; j < events; j++ {
			ev := event.Event{Value: 0.02 * math.Exp(rng.NormFloat64()), HasValue: true}
			switch x := rng.IntN(1000); {
			case x < 10:
				ev.Class = event.ClientError
			case x < 13:
				ev.Class = event.ServerError
			}
			a.Add(&ev)
		}
		out[i] = a
	}
	return out
}

// benchView fills a view through the Sink methods as the runtime does: keys
// group keys spread over partitions partitions (each key on one, as stage 2
// routes them), with running totals and warmup+1 closed windows (so every
// anomaly score is exported).
func benchView(b *testing.B, keys, partitions int) *View {
	b.Helper()
	v := NewView(benchCfg(b))
	totals := benchAggs(64, 2000, 1)
	windows := benchAggs(64, 200, 2)
	groups := make([]string, keys)
	for i := range groups {
		groups[i] = group("/api/endpoint/" + strconv.Itoa(i))
	}
	for p := range partitions {
		v.Active(int32(p), engine.NoTime, nil)
	}
	const nWindows = 3
	for w := int64(0); w < nWindows; w++ {
		var commits []stream.Commit
		for p := range partitions {
			c := stream.Commit{Partition: int32(p), StreamTime: (w+1)*minute + 10000}
			for i, g := range groups {
				if ownerOf(g, partitions) != int32(p) {
					continue
				}
				agg := totals[(i+p+int(w))%len(totals)]
				c.Totals = append(c.Totals, engine.Change{Group: g, Start: engine.TotalStart,
					Value: aggregate.Value{End: engine.TotalStart, Last: (w+1)*minute - 1, Agg: agg}})
				c.Closed = append(c.Closed, engine.Change{Group: g, Start: w * minute,
					Value: aggregate.Value{End: (w + 1) * minute, Last: (w+1)*minute - 1, Agg: windows[(i*7+p+int(w))%len(windows)]}})
			}
			commits = append(commits, c)
		}
		v.Committed(commits)
	}
	return v
}

// scrape serves one scrape through h in the format accept asks for, into body
// (nil: discarded, as a socket would take it).
func scrape(b *testing.B, h http.Handler, accept string, body *bytes.Buffer) int {
	w := &discard{header: http.Header{}, body: body}
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	h.ServeHTTP(w, req)
	if w.code != 0 && w.code != http.StatusOK {
		b.Fatalf("scrape: HTTP %d", w.code)
	}
	return w.n
}

type discard struct {
	header http.Header
	body   *bytes.Buffer
	code   int
	n      int
}

func (d *discard) Header() http.Header  { return d.header }
func (d *discard) WriteHeader(code int) { d.code = code }
func (d *discard) Write(p []byte) (int, error) {
	d.n += len(p)
	if d.body != nil {
		d.body.Write(p)
	}
	return len(p), nil
}

// cpuTime is the CPU time the process has used (user and system, every
// thread): on a machine shared with other work it measures the cost of an
// operation better than the wall time, which includes waiting for a core.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// samples counts the sample lines (series) of a text exposition.
func samples(text []byte) int {
	n := 0
	for line := range bytes.Lines(text) {
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}

// BenchmarkScrape is a whole /metrics scrape (registry Gather and exposition
// through promhttp, as web.NewHandler serves it) of a view with keys group keys
// spread over 6 partitions: 12 metrics per key, 25 samples in the text format
// (the histogram's 11 classic buckets, +Inf, _sum and _count). Prometheus scrapes
// protobuf when native histograms are on. view-B/key is the heap the view holds
// per key (its running total, window, labels and history).
func BenchmarkScrape(b *testing.B) {
	const protobuf = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
	for _, bc := range []struct {
		keys   int
		format string
	}{{4000, "text"}, {4000, "protobuf"}, {20000, "text"}} {
		b.Run(fmt.Sprintf("keys=%d/partitions=6/%s", bc.keys, bc.format), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			v := benchView(b, bc.keys, 6)
			runtime.GC()
			runtime.ReadMemStats(&after)
			reg := prometheus.NewRegistry()
			reg.MustRegister(NewCollector(v))
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
			// As web.NewHandler serves /metrics.
			h := promhttp.HandlerFor(prometheus.Gatherers{reg}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})
			var text bytes.Buffer
			scrape(b, h, "", &text)
			accept := ""
			if bc.format == "protobuf" {
				accept = protobuf
			}
			size := scrape(b, h, accept, nil)
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime(b)
			for b.Loop() {
				scrape(b, h, accept, nil)
			}
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(samples(text.Bytes())), "series")
			b.ReportMetric(float64(size), "body-bytes")
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(bc.keys), "view-B/key")
			runtime.KeepAlive(v)
		})
	}
}

// BenchmarkCommitted is what the processing loop spends in the view per
// transaction, reported per changed key: changed running totals of a share of the
// keys, each on its partition of 6 (totals), or a window closing on all 6
// partitions with the totals and the closed windows of those keys (window).
func BenchmarkCommitted(b *testing.B) {
	const keys, changed, parts = 20000, 2000, 6
	for _, withWindow := range []bool{false, true} {
		name := "totals"
		if withWindow {
			name = "window"
		}
		b.Run(fmt.Sprintf("%s/keys=%d/changed=%d", name, keys, changed), func(b *testing.B) {
			v := benchView(b, keys, parts)
			totals := benchAggs(64, 2000, 3)
			windows := benchAggs(64, 200, 4)
			groups := make([]string, changed)
			for i := range groups {
				groups[i] = group("/api/endpoint/" + strconv.Itoa(i*(keys/changed)))
			}
			w := int64(3)
			commits := make([]stream.Commit, parts)
			b.ReportAllocs()
			b.ResetTimer()
			cpu, building := cpuTime(b), time.Duration(0)
			for b.Loop() {
				b.StopTimer() // the commits are the runtime's, not the view's work
				start := cpuTime(b)
				for p := range commits {
					c := stream.Commit{Partition: int32(p), StreamTime: w*minute + 100}
					for i, g := range groups {
						if ownerOf(g, parts) != int32(p) {
							continue
						}
						c.Totals = append(c.Totals, engine.Change{Group: g, Start: engine.TotalStart,
							Value: aggregate.Value{End: engine.TotalStart, Last: w * minute, Agg: totals[(i+p)%len(totals)]}})
						if withWindow {
							c.Closed = append(c.Closed, engine.Change{Group: g, Start: (w - 1) * minute,
								Value: aggregate.Value{End: w * minute, Last: w*minute - 1, Agg: windows[(i+p)%len(windows)]}})
						}
					}
					if withWindow {
						c.StreamTime = w*minute + 10000
					}
					commits[p] = c
				}
				if withWindow {
					w++
				}
				building += cpuTime(b) - start
				b.StartTimer()
				v.Committed(commits)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*changed), "ns/key")
			b.ReportMetric(float64(cpuTime(b)-cpu-building)/float64(b.N*changed), "cpu-ns/key")
		})
	}
}
