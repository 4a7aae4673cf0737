package sketch

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchValues are latency-like values in seconds: log-normal, median 50 ms, sigma 1.
var benchValues = logNormal(100, 1<<16, 1)

func BenchmarkAdd(b *testing.B) {
	for _, schema := range []int32{0, 4, DefaultSchema, 8} {
		b.Run(fmt.Sprint("schema=", schema), func(b *testing.B) {
			s := sketchOf(schema, benchValues) // steady state: buckets cover the range
			mask := len(benchValues) - 1
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Add(benchValues[i&mask])
			}
		})
	}
}

func BenchmarkMerge(b *testing.B) {
	x, y := sketchOf(DefaultSchema, logNormal(101, 100000, 0.5)), sketchOf(DefaultSchema, logNormal(102, 100000, 0.5))
	b.Run("same schema", func(b *testing.B) {
		dst := x.Clone()
		b.ReportAllocs()
		for b.Loop() {
			dst.Merge(y)
		}
		b.ReportMetric(float64(len(listBuckets(y.ForEachBucket))), "buckets")
	})
	b.Run("schema 8 into 6", func(b *testing.B) {
		y8 := sketchOf(8, logNormal(102, 100000, 0.5))
		dst := x.Clone()
		b.ReportAllocs()
		for b.Loop() {
			dst.Merge(y8)
		}
		b.ReportMetric(float64(len(listBuckets(y8.ForEachBucket))), "buckets")
	})
}

func BenchmarkQuantile(b *testing.B) {
	s := sketchOf(DefaultSchema, logNormal(103, 100000, 1))
	b.ReportAllocs()
	for b.Loop() {
		s.Quantile(0.99)
	}
	b.ReportMetric(float64(len(listBuckets(s.ForEachBucket))), "buckets")
}

func BenchmarkAppendBinary(b *testing.B) {
	s := sketchOf(DefaultSchema, logNormal(104, 100000, 1))
	buf, _ := s.AppendBinary(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = s.AppendBinary(buf[:0])
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

// BenchmarkUnmarshalBinary decodes into a reused sketch, and into a new one
// each time, as a query does for each point of one window.
func BenchmarkUnmarshalBinary(b *testing.B) {
	data, _ := sketchOf(DefaultSchema, logNormal(104, 100000, 1)).MarshalBinary()
	b.Run("reused", func(b *testing.B) {
		s := New(DefaultSchema)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("new", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var s Sketch
			if err := s.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
}

// BenchmarkMergeBinary merges the encoding of a 1-minute window (200
// latencies: some 150 non-empty buckets over a span of some 500) into an
// hour's sketch, against decoding it and merging the decoded sketch.
func BenchmarkMergeBinary(b *testing.B) {
	// A window of 200 log-normal values, and the encodings the rollup
	// benchmark's queries merge (issue 12): a one-minute window of 20
	// latencies (a few buckets far apart) and an hourly rollup of 1,200.
	for _, w := range []struct {
		name   string
		values []float64
	}{
		{"lognormal=200", logNormal(105, 200, 1)},
		{"values=20", windowValues(20, 20)},
		{"values=1200", windowValues(1200, 1200)},
	} {
		data, _ := sketchOf(DefaultSchema, w.values).MarshalBinary()
		b.Run(w.name+"/MergeBinary", func(b *testing.B) {
			dst := sketchOf(DefaultSchema, logNormal(106, 12000, 1))
			b.ReportAllocs()
			for b.Loop() {
				if err := dst.MergeBinary(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes")
		})
		b.Run(w.name+"/UnmarshalBinary+Merge", func(b *testing.B) {
			dst := sketchOf(DefaultSchema, logNormal(106, 12000, 1))
			var o Sketch
			b.ReportAllocs()
			for b.Loop() {
				if err := o.UnmarshalBinary(data); err != nil {
					b.Fatal(err)
				}
				dst.Merge(&o)
			}
			b.ReportMetric(float64(len(data)), "bytes")
		})
	}
}

// BenchmarkLoad loads the encodings of the windows the rollup benchmark's
// queries read (issue 12): a one-minute window of 20 latencies (a few buckets
// far apart) and an hourly rollup of 1,200 (a dense run of small counts).
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{20, 1200} {
		data, _ := sketchOf(DefaultSchema, windowValues(uint64(n), n)).MarshalBinary()
		b.Run(fmt.Sprint("values=", n), func(b *testing.B) {
			var s Sketch
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Load(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes")
		})
	}
}

// windowValues returns n latencies in seconds as the rollup benchmark draws
// them: uniform in 5–35 ms, one in 20 from a heavy tail.
func windowValues(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 2))
	v := make([]float64, n)
	for i := range v {
		v[i] = 0.005 + 0.03*r.Float64()
		if r.IntN(20) == 0 {
			v[i] = 0.3 + 2*r.ExpFloat64()
		}
	}
	return v
}
