package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// The benchmarks read 1,000 keys x 60 one-minute windows of req_1m, each of 200
// latencies (a sketch of some 150 buckets over a span of some 500), in 4 stores
// of each kind:
//
//   - memory: store.Memory.
//   - rocks: RocksDB as the windows were written, in one batch: all in the
//     memtable, as the last minutes of a running task are.
//   - rocks-sst: the same store closed (which flushes it) and reopened: all in
//     table files, as windows older than a memtable or read after a restart.
//
// Each reports ns/op and the p50 and p99 of the latencies of its queries.
const (
	benchKeys  = 1000
	benchParts = 4
)

var benchStoreKinds = []string{"memory", "rocks", "rocks-sst"}

// benchBatches returns the windows of every partition, encoded once per
// process.
var benchBatches = sync.OnceValue(func() []*store.Batch {
	r := rand.New(rand.NewPCG(7, 8))
	batches := make([]*store.Batch, benchParts)
	for p := range batches {
		batches[p] = &store.Batch{}
	}
	for k := 0; k < benchKeys; k++ {
		group := store.AppendGroup(nil, []byte(fmt.Sprintf("/api/v1/endpoint/%04d", k)), []byte("GET"), []byte("eu"))
		for m := int64(0); m < 60; m++ {
			a := aggregate.New(sketch.DefaultSchema, true)
			for i := 0; i < 200; i++ {
				v := 0.002 + 0.05*r.ExpFloat64()
				a.Count++
				a.Values++
				a.Sum += v
				a.Min, a.Max = min(a.Min, v), max(a.Max, v)
				a.Sketch.Add(v)
			}
			val, _ := aggregate.Value{End: t0 + (m+1)*minute, Last: t0 + (m+1)*minute - 1, Agg: a}.AppendBinary(nil)
			batches[k%benchParts].Put(store.Key{Agg: "req_1m", Group: group, Start: t0 + m*minute}, val)
		}
	}
	return batches
})

// benchStores returns the sources of the benchmark's stores of one kind.
func benchStores(b *testing.B, kind string) []Source {
	b.Helper()
	srcs := make([]Source, benchParts)
	for p, batch := range benchBatches() {
		var st store.Store
		switch kind {
		case "memory":
			st = store.NewMemory()
		case "rocks", "rocks-sst":
			dir := b.TempDir()
			r, err := store.OpenRocks(dir, store.RocksOptions{})
			if err != nil {
				b.Fatal(err)
			}
			st = r
			if kind == "rocks-sst" {
				if err := st.Write(batch); err != nil {
					b.Fatal(err)
				}
				if err := st.Close(); err != nil {
					b.Fatal(err)
				}
				if st, err = store.OpenRocks(dir, store.RocksOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		default:
			b.Fatalf("unknown store kind %q", kind)
		}
		if kind != "rocks-sst" {
			if err := st.Write(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { st.Close() })
		srcs[p] = Source{Partition: int32(p), Store: st, StreamTime: t0 + hour + 30_000}
	}
	return srcs
}

// forEachStore runs bench once per store kind, with that kind's stores; bench
// runs its queries in sub-benchmarks, so the stores are filled once.
func forEachStore(b *testing.B, bench func(b *testing.B, srcs []Source)) {
	for _, kind := range benchStoreKinds {
		b.Run("store="+kind, func(b *testing.B) { bench(b, benchStores(b, kind)) })
	}
}

// runLatency runs fn b.N times and reports the p50 and p99 of its latencies,
// from the sorted sample of all b.N of them, and the process's CPU time per
// call (user and system, every thread: RocksDB's and the GC's too), which
// other processes sharing the host inflate far less than latencies.
func runLatency(b *testing.B, fn func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / 1e3 }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(float64(cpu)/float64(b.N)/1e3, "cpu-µs/op")
}

// processCPU returns the user and system time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMeasures ask for a quantile, so points merge sketches; countMeasures
// do not, and the scan skips the sketches.
var (
	benchMeasures = []Measure{{Kind: Count}, {Kind: ErrorRatio}, {Kind: Quantile, Q: 0.99}}
	countMeasures = []Measure{{Kind: Count}, {Kind: ErrorRatio}, {Kind: Rate}}
)

// BenchmarkRangeOneKey: one key over 1 hour of 1-minute windows, among 1,000
// keys in 4 stores (target p99 <= 1 ms locally).
func BenchmarkRangeOneKey(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	forEachStore(b, func(b *testing.B, srcs []Source) {
		for _, step := range []int64{minute, hour} {
			b.Run(fmt.Sprintf("step=%dm", step/minute), func(b *testing.B) {
				q := RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Step: step, Measures: benchMeasures,
					Filters: []Matcher{{"endpoint", Equal, "/api/v1/endpoint/0421"}, {"method", Equal, "GET"}, {"region", Equal, "eu"}}}
				runLatency(b, func() error {
					r, err := l.Range(context.Background(), srcs, q)
					if err == nil && (len(r.Series) != 1 || len(r.Series[0].Points) != int(hour/step)) {
						err = fmt.Errorf("%d series", len(r.Series))
					}
					return err
				})
			})
		}
	})
}

// BenchmarkRangeByKey: 1,000 keys over 1 hour grouped by key (target p99 <=
// 50 ms).
func BenchmarkRangeByKey(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	forEachStore(b, func(b *testing.B, srcs []Source) {
		for _, c := range []struct {
			name     string
			step     int64
			measures []Measure
		}{{"p99/step=1m", minute, benchMeasures}, {"p99/step=60m", hour, benchMeasures}, {"counts/step=1m", minute, countMeasures}, {"counts/step=60m", hour, countMeasures}} {
			b.Run(c.name, func(b *testing.B) {
				q := RangeQuery{Aggregation: "req_1m", GroupBy: []string{"endpoint"}, From: t0, To: t0 + hour, Step: c.step, Measures: c.measures}
				runLatency(b, func() error {
					r, err := l.Range(context.Background(), srcs, q)
					if err == nil && len(r.Series) != benchKeys {
						err = fmt.Errorf("%d series", len(r.Series))
					}
					return err
				})
			})
		}
	})
}

// BenchmarkTopK: the 10 slowest of 1,000 keys by P99 over 1 hour.
func BenchmarkTopK(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	forEachStore(b, func(b *testing.B, srcs []Source) {
		q := TopKQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Measure: Measure{Kind: Quantile, Q: 0.99}, K: 10}
		b.Run("k=10", func(b *testing.B) {
			runLatency(b, func() error {
				r, err := l.TopK(context.Background(), srcs, q)
				if err == nil && len(r.Entries) != 10 {
					err = fmt.Errorf("%d entries", len(r.Entries))
				}
				return err
			})
		})
	})
}

// BenchmarkLatest: the latest windows of 1,000 keys over their last 5 minutes,
// what a live panel asks for.
func BenchmarkLatest(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	forEachStore(b, func(b *testing.B, srcs []Source) {
		q := LatestQuery{Aggregation: "req_1m", Since: t0 + 55*minute, Measures: benchMeasures}
		b.Run("since=5m", func(b *testing.B) {
			runLatency(b, func() error {
				r, err := l.Latest(context.Background(), srcs, q)
				if err == nil && (len(r.Keys) != benchKeys || r.Keys[0].Closed == nil) {
					err = fmt.Errorf("%d keys", len(r.Keys))
				}
				return err
			})
		})
	})
}
