package sketch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// clientGolangIndex is client_golang v1.25.0's histogramCounts.observe key computation,
// transcribed: math.Frexp and a binary search in the octave bounds.
func clientGolangIndex(v float64, schema int32) int32 {
	frac, exp := math.Frexp(math.Abs(v))
	if schema > 0 {
		bounds := nativeBounds[schema]
		return int32(sort.SearchFloat64s(bounds, frac) + (exp-1)*len(bounds))
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	offset := (1 << -schema) - 1
	return int32((key + offset) >> -schema)
}

// logIndex is the definition, ceil(log2(v)·2^s), with math.Log2's rounding near a boundary
// fixed by comparing v with the bucket's bounds.
func logIndex(v float64, schema int32) int32 {
	v = math.Abs(v)
	i := int32(math.Ceil(math.Log2(v) * math.Exp2(float64(schema))))
	for v > upperBound(i, schema) {
		i++
	}
	for v <= upperBound(i-1, schema) {
		i--
	}
	return i
}

func indexOf(v float64, schema int32) int32 {
	return index(math.Float64bits(v)&^signBit, schema)
}

func TestIndexAtBoundaries(t *testing.T) {
	up := func(v float64) float64 { return math.Nextafter(v, math.Inf(1)) }
	down := func(v float64) float64 { return math.Nextafter(v, 0) }
	type point struct {
		v    float64
		want int32
	}
	tests := []struct {
		schema int32
		points []point
	}{
		// Schema s >= 0: 2 is the upper bound of bucket 2^s, 1 of bucket 0. client_golang's
		// bound for 2^(1/2) is 1.414213562373095, one ulp below math.Sqrt2's float, which is
		// above 2^(1/2) and so correctly in the next bucket.
		{8, []point{{1, 0}, {up(1), 1}, {down(1), 0}, {2, 256}, {up(2), 257}, {0.5, -256}, {up(0.5), -255},
			{1.414213562373095, 128}, {up(1.414213562373095), 129}, {math.Sqrt2, 129}, {1024, 2560}}},
		{6, []point{{1, 0}, {up(1), 1}, {down(1), 0}, {2, 64}, {up(2), 65}, {down(2), 64}, {0.5, -64}, {up(0.5), -63},
			{1.414213562373095, 32}, {up(1.414213562373095), 33}, {0.001, -637}, {0.1, -212}, {60, 379}}},
		{4, []point{{1, 0}, {up(1), 1}, {2, 16}, {up(2), 17}, {0.5, -16}, {up(0.5), -15}}},
		{1, []point{{1, 0}, {up(1), 1}, {1.414213562373095, 1}, {up(1.414213562373095), 2}, {2, 2}, {up(2), 3}, {0.5, -2}}},
		{0, []point{{1, 0}, {up(1), 1}, {2, 1}, {up(2), 2}, {3, 2}, {4, 2}, {up(4), 3}, {0.5, -1}, {up(0.5), 0}}},
		// Schema -1: base 4, bucket 0 is (1/4, 1], bucket 1 is (1, 4].
		{-1, []point{{1, 0}, {up(1), 1}, {2, 1}, {4, 1}, {up(4), 2}, {16, 2}, {0.5, 0}, {0.25, -1}, {up(0.25), 0}}},
		// Schema -4: base 2^16.
		{-4, []point{{1, 0}, {up(1), 1}, {65536, 1}, {up(65536), 2}, {down(1.0 / 65536), -1}, {1.0 / 65536, -1},
			{up(1.0 / 65536), 0}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("schema=", tt.schema), func(t *testing.T) {
			for _, p := range tt.points {
				if got := indexOf(p.v, tt.schema); got != p.want {
					t.Errorf("index(%v) = %d, want %d", p.v, got, p.want)
				}
				if got := clientGolangIndex(p.v, tt.schema); got != p.want {
					t.Errorf("client_golang index(%v) = %d, want %d (bad test case)", p.v, got, p.want)
				}
			}
		})
	}
}

// TestIndexEveryBoundary checks, for every bucket of every schema, the bucket's upper
// bound and its two neighbouring floats against client_golang's computation and the
// logarithm definition.
func TestIndexEveryBoundary(t *testing.T) {
	for schema := int32(minSchema); schema <= maxSchema; schema++ {
		t.Run(fmt.Sprint("schema=", schema), func(t *testing.T) {
			tb := table(schema)
			for i := tb.minIndex; i < tb.maxIndex; i++ {
				ub := upperBound(i, schema)
				for _, c := range []struct {
					v    float64
					want int32
				}{{ub, i}, {math.Nextafter(ub, 0), i}, {math.Nextafter(ub, math.Inf(1)), i + 1}} {
					got := indexOf(c.v, schema)
					cg := clientGolangIndex(c.v, schema)
					lg := logIndex(c.v, schema)
					if got != c.want || cg != c.want || lg != c.want {
						t.Fatalf("bucket %d bound %v: v %v: index %d, client_golang %d, log %d, want %d",
							i, ub, c.v, got, cg, lg, c.want)
					}
				}
			}
		})
	}
}

func TestIndexRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const n = 200000
	values := make([]float64, 0, 2*n)
	for range n {
		// Uniform bit patterns cover every exponent and mantissa.
		v := math.Float64frombits(r.Uint64() &^ signBit)
		if v > ZeroThreshold && !math.IsInf(v, 0) && !math.IsNaN(v) {
			values = append(values, v)
		}
		values = append(values, 0.05*math.Exp(2*r.NormFloat64()))
	}
	for schema := int32(minSchema); schema <= maxSchema; schema++ {
		t.Run(fmt.Sprint("schema=", schema), func(t *testing.T) {
			for _, v := range values {
				got, cg, lg := indexOf(v, schema), clientGolangIndex(v, schema), logIndex(v, schema)
				if got != cg || got != lg {
					t.Fatalf("index(%v) = %d, client_golang %d, log %d", v, got, cg, lg)
				}
			}
		})
	}
}

// TestIndexDownscaleExact checks that downscaling a value's bucket gives the bucket the
// value has at the lower schema, the property Downscale and Merge rely on.
func TestIndexDownscaleExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	values := []float64{1, 2, 0.5, math.Nextafter(ZeroThreshold, 1), math.MaxFloat64}
	for schema := int32(1); schema <= maxSchema; schema++ {
		for i := table(schema).minIndex; i < table(schema).maxIndex; i += 7 {
			ub := upperBound(i, schema)
			values = append(values, ub, math.Nextafter(ub, math.Inf(1)))
		}
	}
	for range 100000 {
		values = append(values, math.Exp(r.NormFloat64()*20))
	}
	for from := int32(minSchema); from <= maxSchema; from++ {
		t.Run(fmt.Sprint("from=", from), func(t *testing.T) {
			for to := int32(minSchema); to < from; to++ {
				for _, v := range values {
					if got, want := downscaleIndex(indexOf(v, from), from-to), indexOf(v, to); got != want {
						t.Fatalf("v %v: bucket %d at schema %d downscales to %d at %d, want %d", v, indexOf(v, from), from, got, to, want)
					}
				}
			}
		})
	}
}

// TestTables checks the tables the fast index relies on: client_golang's bounds are within
// 4 ulps of 2^(j/2^s - 1) (its generator multiplies, so they are not correctly rounded;
// that is why they are copied, not computed), every lower schema's bounds are among the higher's, and each
// mantissa prefix holds at most one bound.
func TestTables(t *testing.T) {
	for schema := int32(1); schema <= maxSchema; schema++ {
		t.Run(fmt.Sprint("schema=", schema), func(t *testing.T) {
			bounds := nativeBounds[schema]
			if len(bounds) != 1<<schema {
				t.Fatalf("%d bounds, want %d", len(bounds), 1<<schema)
			}
			for j, b := range bounds {
				exact := math.Exp2(float64(j)/float64(len(bounds)) - 1)
				if ulp := math.Nextafter(exact, 2) - exact; math.Abs(b-exact) > 4*ulp {
					t.Errorf("bound %d = %v, want %v within 4 ulps", j, b, exact)
				}
				if j%2 == 0 && schema > 1 && b != nativeBounds[schema-1][j/2] {
					t.Errorf("bound %d = %v, schema %d has %v", j, b, schema-1, nativeBounds[schema-1][j/2])
				}
			}
			tb := table(schema)
			for p := range tb.first {
				lo, hi := uint64(p)<<tb.shift, uint64(p+1)<<tb.shift
				inside := 0
				for _, m := range tb.mant {
					if m >= lo && m < hi {
						inside++
					}
				}
				if inside > 1 {
					t.Fatalf("prefix %d holds %d bounds", p, inside)
				}
			}
		})
	}
}

func TestZeroThreshold(t *testing.T) {
	if ZeroThreshold != math.Ldexp(1, -128) {
		t.Fatalf("ZeroThreshold = %v, want 2^-128", ZeroThreshold)
	}
}
