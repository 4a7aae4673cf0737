package sketch

import (
	"fmt"
	"math"
	"testing"
)

// TestClassicCounts checks the classic buckets filled from a sketch against the
// counts of the raw values: for every bound b above the zero threshold, the count
// lies between the exact counts at b/base and at b, base = 2^(2^-schema), and is
// exact where b is a bucket edge (a power of two at schema >= 0).
func TestClassicCounts(t *testing.T) {
	bounds := []struct {
		name  string
		upper []float64
	}{
		{"client_golang DefBuckets", []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
		{"powers of two", []float64{0.5, 1, 2, 4, 8, 16, 1024}},
		{"fine", []float64{0.099, 0.1, 0.101, 0.102, 0.103}},
		{"tiny and huge", []float64{1e-300, ZeroThreshold, 1e-38, 1e300, math.MaxFloat64}},
		{"one", []float64{0.123}},
	}
	for _, schema := range []int32{8, 6, 3, 0, -2} {
		for _, d := range distributions() {
			s := sketchOf(schema, d.values)
			// Wide data lowers a sketch's schema (4096 buckets at most): the bound
			// is that of the schema it has.
			base := math.Exp2(math.Exp2(-float64(s.Schema())))
			// The exact counts, by brute force over the raw values.
			exact := func(b float64) uint64 {
				var n uint64
				for _, v := range d.values {
					if v <= b {
						n++
					}
				}
				return n
			}
			for _, bs := range bounds {
				t.Run(fmt.Sprintf("schema=%d/%s/%s", schema, d.name, bs.name), func(t *testing.T) {
					got := make([]uint64, len(bs.upper))
					s.ClassicCounts(bs.upper, got)
					for k, b := range bs.upper {
						hi := exact(b)
						if b < ZeroThreshold {
							// Below the zero bucket: only the values under it.
							if want := exact(-ZeroThreshold) - exactEq(d.values, -ZeroThreshold); got[k] != want {
								t.Errorf("le=%g: %d, want %d (the negative values below the zero bucket)", b, got[k], want)
							}
							continue
						}
						lo := exact(b / base * (1 - 1e-12))
						if got[k] < lo || got[k] > hi {
							t.Errorf("le=%g: %d, want between %d (exact at b/base) and %d (exact at b)", b, got[k], lo, hi)
						}
						if isPow2(b) && s.Schema() >= 0 && got[k] != hi {
							t.Errorf("le=%g, a bucket edge: %d, want exactly %d", b, got[k], hi)
						}
						if k > 0 && got[k] < got[k-1] {
							t.Errorf("le=%g: %d below the previous bucket's %d", b, got[k], got[k-1])
						}
					}
					if last := got[len(got)-1]; last > s.Count() {
						t.Errorf("last bucket %d above the count %d", last, s.Count())
					}
				})
			}
		}
	}
}

// TestClassicCountsEmpty: no values, no bounds, and a short counts slice left alone.
func TestClassicCountsEmpty(t *testing.T) {
	s := New(6)
	got := []uint64{7, 7}
	s.ClassicCounts([]float64{1, 2}, got)
	if got[0] != 0 || got[1] != 0 {
		t.Errorf("empty sketch: %v, want [0 0]", got)
	}
	s.Add(1)
	s.ClassicCounts(nil, nil)
	got = []uint64{9, 9, 9}
	s.ClassicCounts([]float64{0.5}, got)
	if got[0] != 0 || got[1] != 9 {
		t.Errorf("one bound: %v, want [0 9 9]", got)
	}
}

func exactEq(values []float64, x float64) uint64 {
	var n uint64
	for _, v := range values {
		if v == x {
			n++
		}
	}
	return n
}

func isPow2(x float64) bool {
	frac, _ := math.Frexp(x)
	return frac == 0.5
}
