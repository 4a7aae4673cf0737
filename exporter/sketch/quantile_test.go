package sketch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var testQuantiles = []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999}

// exactQuantile is the value of 1-based rank max(1, ceil(q·n)) in sorted, the convention
// Quantile documents.
func exactQuantile(sorted []float64, q float64) float64 {
	r := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(r, 1)-1]
}

// boundSlack absorbs float rounding: client_golang's bucket bounds are up to 4 ulps off
// the exact powers, and the estimate is a product of two rounded numbers.
const boundSlack = 1e-9

// quantileError returns the error of est for exact, relative to |exact|, or, for exact in
// the zero bucket, the absolute error divided by ZeroThreshold. Either must be <= the bound
// (RelativeError, or 1 for the zero bucket).
func quantileError(est, exact float64, bound float64) (err float64, ok bool) {
	if math.Abs(exact) <= ZeroThreshold {
		err = math.Abs(est-exact) / ZeroThreshold
		return err, err <= 1
	}
	err = math.Abs(est-exact) / math.Abs(exact)
	return err, err <= bound*(1+boundSlack)
}

// distributions are the accuracy test's data sets, 100k samples each with a fixed seed.
func distributions() []struct {
	name   string
	values []float64
} {
	const n = 100000
	r := rand.New(rand.NewPCG(42, 7))
	gen := func(f func() float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f()
		}
		return v
	}
	return []struct {
		name   string
		values []float64
	}{
		{"normal 100ms sd 20ms", gen(func() float64 { return 0.1 + 0.02*r.NormFloat64() })},
		{"normal 0 sd 1 (both signs)", gen(func() float64 { return r.NormFloat64() })},
		{"log-normal 50ms sigma 1", gen(func() float64 { return 0.05 * math.Exp(r.NormFloat64()) })},
		{"log-normal 50ms sigma 3", gen(func() float64 { return 0.05 * math.Exp(3*r.NormFloat64()) })},
		{"exponential mean 100ms", gen(func() float64 { return 0.1 * r.ExpFloat64() })},
		{"bimodal 5ms and 800ms", gen(func() float64 {
			if r.Float64() < 0.8 {
				return 0.005 * math.Exp(0.3*r.NormFloat64())
			}
			return 0.8 * math.Exp(0.2*r.NormFloat64())
		})},
		{"exponential with 10% zeros and 5% negatives", gen(func() float64 {
			switch u := r.Float64(); {
			case u < 0.1:
				return 0
			case u < 0.15:
				return -r.ExpFloat64()
			}
			return r.ExpFloat64()
		})},
		{"integers 1..1000 (values on bucket bounds)", gen(func() float64 { return float64(1 + r.IntN(1000)) })},
		{"constant 0.123", gen(func() float64 { return 0.123 })},
		{"single sample", []float64{0.042}},
	}
}

func TestQuantileAccuracy(t *testing.T) {
	dists := distributions()
	for _, schema := range []int32{6, 4, 0} {
		bound := RelativeError(schema)
		var maxErr float64
		for _, d := range dists {
			t.Run(fmt.Sprintf("schema=%d/%s", schema, d.name), func(t *testing.T) {
				s := sketchOf(schema, d.values)
				checkInvariants(t, s)
				if s.Schema() != schema {
					t.Fatalf("schema %d, want %d", s.Schema(), schema)
				}
				sorted := slices.Sorted(slices.Values(d.values))
				for _, q := range testQuantiles {
					exact, est := exactQuantile(sorted, q), s.Quantile(q)
					err, ok := quantileError(est, exact, bound)
					if !ok {
						t.Errorf("q %v: estimate %v, exact %v: error %.6g > bound %.6g", q, est, exact, err, bound)
					}
					if math.Abs(exact) > ZeroThreshold {
						maxErr = max(maxErr, err)
					}
				}
				if s.Quantile(0) != sorted[0] || s.Quantile(1) != sorted[len(sorted)-1] {
					t.Errorf("q 0, 1: %v, %v, want min %v, max %v", s.Quantile(0), s.Quantile(1), sorted[0], sorted[len(sorted)-1])
				}
			})
		}
		t.Logf("schema %d: max observed relative error %.4f%% (bound %.4f%%)", schema, 100*maxErr, 100*bound)
	}
}

func TestQuantileEdges(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		q      float64
		want   float64 // NaN for NaN
	}{
		{"empty", nil, 0.5, math.NaN()},
		{"q below 0", []float64{1}, -0.1, math.NaN()},
		{"q above 1", []float64{1}, 1.1, math.NaN()},
		{"q NaN", []float64{1}, math.NaN(), math.NaN()},
		{"q 0 is min", []float64{3, 1.234, 2}, 0, 1.234},
		{"q 1 is max", []float64{3.456, 1, 2}, 1, 3.456},
		{"clamped to the only value", []float64{0.042}, 0.5, 0.042},
		{"all zeros", []float64{0, 0, 0}, 0.5, 0},
		{"rank 1 of 2", []float64{10, 20}, 0.5, 10},
		{"rank 2 of 2", []float64{10, 20}, 0.51, 20},
		{"negative side first", []float64{-8, -8, -8, 1}, 0.5, -8},
		{"zero between signs", []float64{-8, 0, 8}, 0.5, 0},
		{"largest finite value", []float64{1, math.MaxFloat64, math.MaxFloat64}, 0.9, math.MaxFloat64},
		{"most negative finite value", []float64{-math.MaxFloat64, -math.MaxFloat64, 1}, 0.1, -math.MaxFloat64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sketchOf(DefaultSchema, tt.values)
			got := s.Quantile(tt.q)
			if math.IsNaN(tt.want) {
				if !math.IsNaN(got) {
					t.Fatalf("Quantile(%v) = %v, want NaN", tt.q, got)
				}
				return
			}
			if err, ok := quantileError(got, tt.want, RelativeError(DefaultSchema)); !ok {
				t.Fatalf("Quantile(%v) = %v, want %v within the bound (error %v)", tt.q, got, tt.want, err)
			}
		})
	}
}

func TestRelativeError(t *testing.T) {
	tests := []struct {
		schema int32
		want   float64
	}{
		{8, 0.0013538023},
		{6, 0.0054151594},
		{4, 0.0216574623},
		{0, 1.0 / 3},
		{-4, 65535.0 / 65537},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("schema=", tt.schema), func(t *testing.T) {
			if got := RelativeError(tt.schema); math.Abs(got-tt.want) > 1e-10 {
				t.Fatalf("RelativeError(%d) = %v, want %v", tt.schema, got, tt.want)
			}
		})
	}
}
