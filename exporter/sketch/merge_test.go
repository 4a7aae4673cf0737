package sketch

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// mixedValues returns latency-like values with some negatives and zeros.
func mixedValues(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 3))
	v := make([]float64, n)
	for i := range v {
		switch u := r.Float64(); {
		case u < 0.05:
			v[i] = 0
		case u < 0.15:
			v[i] = -0.01 * math.Exp(r.NormFloat64())
		default:
			v[i] = 0.05 * math.Exp(r.NormFloat64())
		}
	}
	return v
}

// split cuts values into parts of random, unequal sizes (some empty).
func split(seed uint64, values []float64, parts int) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 9))
	cuts := []int{0, len(values)}
	for range parts - 1 {
		cuts = append(cuts, r.IntN(len(values)+1))
	}
	slices.Sort(cuts)
	var out [][]float64
	for i := 1; i < len(cuts); i++ {
		out = append(out, values[cuts[i-1]:cuts[i]])
	}
	return out
}

func TestMerge(t *testing.T) {
	values := mixedValues(10, 100000)
	tests := []struct {
		name    string
		schemas []int32 // one sketch per schema, each over one part of values
		want    int32   // the schema of the merge, and of the sketch it must equal
	}{
		{"same schema, 2 parts", []int32{6, 6}, 6},
		{"same schema, 7 parts", []int32{6, 6, 6, 6, 6, 6, 6}, 6},
		{"lower schema second", []int32{6, 4}, 4},
		{"lower schema first", []int32{4, 6}, 4},
		{"mixed schemas", []int32{8, 6, 8, 3, 6}, 3},
		{"down to -4", []int32{8, -4}, -4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := split(uint64(len(tt.schemas)), values, len(tt.schemas))
			merged := New(tt.schemas[0])
			for i, schema := range tt.schemas {
				o := sketchOf(schema, parts[i])
				before, _ := o.AppendBinary(nil)
				merged.Merge(o)
				after, _ := o.AppendBinary(nil)
				if !bytes.Equal(before, after) {
					t.Fatalf("Merge modified its argument")
				}
				checkInvariants(t, merged)
			}
			// The union built directly at the lowest schema: merging and downscaling are exact.
			if d := diff(merged, sketchOf(tt.want, values), 1e-12); d != "" {
				t.Fatalf("merge differs from the sketch of the union: %s", d)
			}
		})
	}
}

func TestMergeSpecialCases(t *testing.T) {
	a, b := mixedValues(11, 1000), mixedValues(12, 1000)
	tests := []struct {
		name  string
		merge func() *Sketch
		want  *Sketch
	}{
		{"empty into empty", func() *Sketch { s := New(6); s.Merge(New(6)); return s }, New(6)},
		{"empty into full", func() *Sketch { s := sketchOf(6, a); s.Merge(New(6)); return s }, sketchOf(6, a)},
		{"full into empty", func() *Sketch { s := New(6); s.Merge(sketchOf(6, a)); return s }, sketchOf(6, a)},
		{"empty of lower schema lowers the schema", func() *Sketch { s := sketchOf(6, a); s.Merge(New(2)); return s }, sketchOf(2, a)},
		{"nil", func() *Sketch { s := sketchOf(6, a); s.Merge(nil); return s }, sketchOf(6, a)},
		{"itself", func() *Sketch { s := sketchOf(6, a); s.Merge(s); return s }, sketchOf(6, slices.Concat(a, a))},
		{"Downscale then Merge", func() *Sketch {
			s := sketchOf(6, a)
			s.Downscale(3)
			s.Merge(sketchOf(6, b))
			return s
		}, sketchOf(3, slices.Concat(a, b))},
		{"clone merged", func() *Sketch { s := sketchOf(6, a).Clone(); s.Merge(sketchOf(6, b).Clone()); return s },
			sketchOf(6, slices.Concat(a, b))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.merge()
			checkInvariants(t, got)
			if d := diff(got, tt.want, 1e-12); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestDownscale(t *testing.T) {
	values := mixedValues(13, 100000)
	sorted := slices.Sorted(slices.Values(values))
	for _, from := range []int32{8, 6, 4, 0} {
		for _, to := range []int32{from, from - 1, from - 2, 0, -4} {
			if to > from {
				continue
			}
			t.Run(fmt.Sprintf("%d to %d", from, to), func(t *testing.T) {
				s := sketchOf(from, values)
				s.Downscale(to)
				s.Downscale(to + 1) // no-op: above the current schema
				checkInvariants(t, s)
				if s.Schema() != to {
					t.Fatalf("schema %d, want %d", s.Schema(), to)
				}
				if d := diff(s, sketchOf(to, values), 0); d != "" {
					t.Fatalf("differs from the sketch built at schema %d: %s", to, d)
				}
				for _, q := range testQuantiles {
					exact, est := exactQuantile(sorted, q), s.Quantile(q)
					if err, ok := quantileError(est, exact, RelativeError(to)); !ok {
						t.Errorf("q %v: estimate %v, exact %v: error %v > %v", q, est, exact, err, RelativeError(to))
					}
				}
			})
		}
	}
}

// TestSpanLimit checks that values or merges spanning more than maxSpan buckets lower the
// schema just enough, and that the result is the sketch built at that schema.
func TestSpanLimit(t *testing.T) {
	logUniform := func(lo, hi float64, n int) []float64 {
		r := rand.New(rand.NewPCG(14, 14))
		v := make([]float64, n)
		for i := range v {
			v[i] = lo * math.Pow(hi/lo, r.Float64())
		}
		return v
	}
	// 1e-3..1e3 is 19.9 octaves: 5100 buckets at schema 8, 2550 at 7.
	wide := logUniform(1e-3, 1e3, 100000)
	reversed := slices.Clone(wide)
	slices.Reverse(reversed)
	narrowLow, narrowHigh := logUniform(1e-3, 2e-3, 1000), logUniform(5e2, 1e3, 1000)
	extremes := []float64{math.Nextafter(ZeroThreshold, 1), math.MaxFloat64, -math.MaxFloat64, 1, -1}
	tests := []struct {
		name  string
		build func() *Sketch
		want  int32
		all   []float64
	}{
		{"added", func() *Sketch { return sketchOf(8, wide) }, 7, wide},
		{"added in reverse", func() *Sketch { return sketchOf(8, reversed) }, 7, wide},
		{"merged", func() *Sketch {
			s := sketchOf(8, narrowLow)
			s.Merge(sketchOf(8, narrowHigh))
			return s
		}, 7, slices.Concat(narrowLow, narrowHigh)},
		{"merged into the lower end", func() *Sketch {
			s := sketchOf(8, narrowHigh)
			s.Merge(sketchOf(8, narrowLow))
			return s
		}, 7, slices.Concat(narrowLow, narrowHigh)},
		// 2^-128..2^1024 is 1152 octaves: 2304 buckets at schema 1.
		{"whole float range", func() *Sketch { return sketchOf(6, extremes) }, 1, extremes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.build()
			checkInvariants(t, s)
			if s.Schema() != tt.want {
				t.Fatalf("schema %d, want %d", s.Schema(), tt.want)
			}
			if d := diff(s, sketchOf(tt.want, tt.all), 1e-12); d != "" {
				t.Fatalf("differs from the sketch built at schema %d: %s", tt.want, d)
			}
			sorted := slices.Sorted(slices.Values(tt.all))
			for _, q := range testQuantiles {
				exact, est := exactQuantile(sorted, q), s.Quantile(q)
				if err, ok := quantileError(est, exact, RelativeError(s.Schema())); !ok {
					t.Errorf("q %v: estimate %v, exact %v: error %v", q, est, exact, err)
				}
			}
		})
	}
}
