package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// benchStores fills a RocksDB store per partition with keys x 60 one-minute
// windows of req_1m, each of 200 latencies (a sketch of some 100 buckets),
// written through store.Batch, and returns the sources.
func benchStores(b *testing.B, keys, parts int) []Source {
	b.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	srcs := make([]Source, parts)
	batches := make([]store.Batch, parts)
	for p := range srcs {
		st, err := store.OpenRocks(b.TempDir(), store.RocksOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		srcs[p] = Source{Partition: int32(p), Store: st, StreamTime: t0 + hour + 30_000}
	}
	for k := 0; k < keys; k++ {
		group := store.AppendGroup(nil, []byte(fmt.Sprintf("/api/v1/endpoint/%04d", k)), []byte("GET"), []byte("eu"))
		p := k % parts
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
			batches[p].Put(store.Key{Agg: "req_1m", Group: group, Start: t0 + m*minute}, val)
		}
	}
	for p := range srcs {
		if err := srcs[p].Store.Write(&batches[p]); err != nil {
			b.Fatal(err)
		}
	}
	return srcs
}

// runLatency runs fn b.N times and reports the p50 and p99 latency.
func runLatency(b *testing.B, fn func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

// benchMeasures ask for a quantile, so points merge sketches; countMeasures
// do not, and the scan skips the sketches.
var (
	benchMeasures = []Measure{{Kind: Count}, {Kind: ErrorRatio}, {Kind: Quantile, Q: 0.99}}
	countMeasures = []Measure{{Kind: Count}, {Kind: ErrorRatio}, {Kind: Rate}}
)

// BenchmarkRangeOneKey: one key over 1 hour of 1-minute windows, 1,000 keys in
// 4 stores (target p99 <= 1 ms locally).
func BenchmarkRangeOneKey(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	srcs := benchStores(b, 1000, 4)
	for _, step := range []int64{minute, hour} {
		b.Run(fmt.Sprintf("step=%dm", step/minute), func(b *testing.B) {
			q := RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Step: step, Measures: benchMeasures,
				Filters: []Matcher{{"endpoint", Equal, "/api/v1/endpoint/0421"}, {"method", Equal, "GET"}, {"region", Equal, "eu"}}}
			runLatency(b, func() error {
				_, err := l.Range(context.Background(), srcs, q)
				return err
			})
		})
	}
}

// BenchmarkRangeByKey: 1,000 keys over 1 hour grouped by key (target p99 <= 50 ms).
func BenchmarkRangeByKey(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	srcs := benchStores(b, 1000, 4)
	for _, c := range []struct {
		name     string
		step     int64
		measures []Measure
	}{{"p99/step=1m", minute, benchMeasures}, {"p99/step=60m", hour, benchMeasures}, {"counts/step=1m", minute, countMeasures}, {"counts/step=60m", hour, countMeasures}} {
		b.Run(c.name, func(b *testing.B) {
			q := RangeQuery{Aggregation: "req_1m", GroupBy: []string{"endpoint"}, From: t0, To: t0 + hour, Step: c.step, Measures: c.measures}
			runLatency(b, func() error {
				r, err := l.Range(context.Background(), srcs, q)
				if err == nil && len(r.Series) != 1000 {
					err = fmt.Errorf("%d series", len(r.Series))
				}
				return err
			})
		})
	}
}

// BenchmarkTopK: the 10 slowest of 1,000 keys by P99 over 1 hour.
func BenchmarkTopK(b *testing.B) {
	l := newLocal(b, newConfig(b), Limits{})
	srcs := benchStores(b, 1000, 4)
	q := TopKQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Measure: Measure{Kind: Quantile, Q: 0.99}, K: 10}
	runLatency(b, func() error {
		r, err := l.TopK(context.Background(), srcs, q)
		if err == nil && len(r.Entries) != 10 {
			err = fmt.Errorf("%d entries", len(r.Entries))
		}
		return err
	})
}
