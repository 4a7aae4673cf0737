package sketch

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// TestKeepEncoding encodes a sketch with an encoding cache after every few
// changes and compares the bytes with refEncoding's: values within the buckets
// already covered (the cached path), beyond them, in new buckets between them,
// repeated counts past one and two bytes, and the changes that drop the cache.
func TestKeepEncoding(t *testing.T) {
	f := func(seed uint64, sigma float64, n int) {
		t.Helper()
		rng := rand.New(rand.NewPCG(seed, 1))
		s := New(DefaultSchema)
		s.KeepEncoding()
		var buf []byte
		for i := 0; i < n; i++ {
			v := 0.02 * math.Exp(sigma*rng.NormFloat64())
			switch r := rng.IntN(1000); {
			case r < 3:
				s.Merge(sketchOf(DefaultSchema, logNormal(seed+uint64(i), 20, sigma)))
			case r < 4:
				s.Downscale(s.Schema() - 1)
			case r < 5:
				data, _ := sketchOf(DefaultSchema, logNormal(seed+uint64(i), 50, sigma)).MarshalBinary()
				if err := s.UnmarshalBinary(data); err != nil {
					t.Fatal(err)
				}
			case r < 6:
				s.Reset()
			case r < 7:
				data, _ := sketchOf(DefaultSchema, logNormal(seed+uint64(i), 20, sigma)).MarshalBinary()
				if err := s.MergeBinary(data); err != nil {
					t.Fatal(err)
				}
			case r < 8: // a lower schema: s is downscaled, the cache dropped
				s.Merge(sketchOf(DefaultSchema-2, logNormal(seed+uint64(i), 20, sigma)))
			case r < 20:
				s.AddN(v, uint64(rng.IntN(20000))+1)
			case r < 25:
				s.Add(-v) // negative buckets are not cached
			default:
				s.Add(v)
			}
			if rng.IntN(4) == 0 {
				var err error
				buf, err = s.AppendBinary(buf[:0])
				if err != nil {
					t.Fatal(err)
				}
				if want := refEncoding(s); !bytes.Equal(buf, want) {
					t.Fatalf("seed %d, after %d changes: encoding\n%x\nwant\n%x", seed, i+1, buf, want)
				}
				if c := s.Clone(); c.pos.cache != nil {
					t.Fatal("Clone copied the encoding cache")
				}
			}
		}
	}
	f(1, 0.5, 5000)  // latencies: buckets fill in, the span grows at the tails
	f(2, 0.05, 5000) // few buckets, counts past 127 and 16383
	f(3, 3, 3000)    // sparse: long empty runs split by new buckets
	for seed := uint64(10); seed < 40; seed++ {
		f(seed, 1, 400)
	}
}

// BenchmarkAppendBinaryKept is a window at 10,000 keys between commits: a sketch
// of 200 latencies gets one more and is encoded, with and without a cache.
func BenchmarkAppendBinaryKept(b *testing.B) {
	for _, keep := range []bool{false, true} {
		name := "fresh"
		if keep {
			name = "kept"
		}
		b.Run(name, func(b *testing.B) {
			s := sketchOf(DefaultSchema, logNormal(107, 200, 0.5))
			if keep {
				s.KeepEncoding()
			}
			vals := logNormal(108, 1<<12, 0.5)
			buf, _ := s.AppendBinary(nil)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				s.Add(vals[i&(len(vals)-1)])
				buf, _ = s.AppendBinary(buf[:0])
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}
