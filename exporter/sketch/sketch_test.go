package sketch

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// bucketList is a sketch's non-empty buckets of one sign, in index order.
type bucketList [][2]int64

func listBuckets(forEach func(func(int32, uint64))) bucketList {
	var l bucketList
	forEach(func(i int32, c uint64) { l = append(l, [2]int64{int64(i), int64(c)}) })
	return l
}

// diff describes how got differs from want, "" if they are the same sketch: same schema,
// buckets, counts, min and max, and sums within a relative sumTol (0: identical bits).
func diff(got, want *Sketch, sumTol float64) string {
	switch {
	case got.Schema() != want.Schema():
		return fmt.Sprintf("schema %d, want %d", got.Schema(), want.Schema())
	case got.Count() != want.Count():
		return fmt.Sprintf("count %d, want %d", got.Count(), want.Count())
	case got.ZeroCount() != want.ZeroCount():
		return fmt.Sprintf("zero count %d, want %d", got.ZeroCount(), want.ZeroCount())
	case !sameFloat(got.Min(), want.Min(), 0) || !sameFloat(got.Max(), want.Max(), 0):
		return fmt.Sprintf("min, max %v, %v, want %v, %v", got.Min(), got.Max(), want.Min(), want.Max())
	case !sameFloat(got.Sum(), want.Sum(), sumTol):
		return fmt.Sprintf("sum %v, want %v", got.Sum(), want.Sum())
	}
	if g, w := listBuckets(got.ForEachBucket), listBuckets(want.ForEachBucket); fmt.Sprint(g) != fmt.Sprint(w) {
		return fmt.Sprintf("positive buckets\n%v\nwant\n%v", g, w)
	}
	if g, w := listBuckets(got.ForEachNegativeBucket), listBuckets(want.ForEachNegativeBucket); fmt.Sprint(g) != fmt.Sprint(w) {
		return fmt.Sprintf("negative buckets\n%v\nwant\n%v", g, w)
	}
	return ""
}

func sameFloat(a, b, tol float64) bool {
	if tol == 0 || math.IsNaN(a) || math.IsInf(a, 0) {
		return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
	}
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

// checkInvariants fails t if s breaks an invariant stated in doc.go.
func checkInvariants(t testing.TB, s *Sketch) {
	t.Helper()
	total := s.ZeroCount()
	var spans []int64
	for _, forEach := range []func(func(int32, uint64)){s.ForEachBucket, s.ForEachNegativeBucket} {
		l := listBuckets(forEach)
		for _, b := range l {
			total += uint64(b[1])
		}
		if len(l) > 0 {
			spans = append(spans, l[len(l)-1][0]-l[0][0]+1)
		}
	}
	if total != s.Count() {
		t.Fatalf("count %d, buckets hold %d", s.Count(), total)
	}
	for _, span := range spans {
		if span > maxSpan {
			t.Fatalf("span %d > %d", span, maxSpan)
		}
	}
	if s.Count() > 0 {
		if err := checkMinMax(s.min, s.max, s.schema, s.zero, s.pos.header(), s.neg.header()); err != nil {
			t.Fatal(err)
		}
	}
}

// header describes b's non-empty buckets as the decoder's validation sees them.
func (b *buckets) header() setHeader {
	lo, hi, ok := b.nonZero()
	if !ok {
		return setHeader{}
	}
	return setHeader{lo: lo, hi: hi, span: int(hi - lo + 1)}
}

// sketchOf returns a sketch of the given schema holding values.
func sketchOf(schema int32, values []float64) *Sketch {
	s := New(schema)
	for _, v := range values {
		s.Add(v)
	}
	return s
}

// logNormal returns n latency-like values in seconds: median 50 ms, sigma 1 (in ln).
func logNormal(seed uint64, n int, sigma float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	for i := range v {
		v[i] = 0.05 * math.Exp(sigma*r.NormFloat64())
	}
	return v
}

func TestAdd(t *testing.T) {
	tiny := math.Nextafter(ZeroThreshold, 1)
	tests := []struct {
		name                 string
		values               []float64
		count, zero          uint64
		sum, min, max        float64
		positive, negative   bucketList
		schema               int32
		wantEmptyMinMaxAsNaN bool
	}{
		{name: "empty", schema: 6, wantEmptyMinMaxAsNaN: true},
		{name: "NaN and infinities ignored", schema: 6, values: []float64{math.NaN(), math.Inf(1), math.Inf(-1)},
			wantEmptyMinMaxAsNaN: true},
		{name: "one", schema: 0, values: []float64{1}, count: 1, sum: 1, min: 1, max: 1,
			positive: bucketList{{0, 1}}},
		{name: "schema 0 buckets", schema: 0, values: []float64{1, 1.5, 2, 3, 4, 0.25, 0.3},
			count: 7, sum: 12.05, min: 0.25, max: 4, positive: bucketList{{-2, 1}, {-1, 1}, {0, 1}, {1, 2}, {2, 2}}},
		{name: "negatives mirror", schema: 0, values: []float64{-1, -1.5, -2, -3, -4, -0.25, -0.3},
			count: 7, sum: -12.05, min: -4, max: -0.25, negative: bucketList{{-2, 1}, {-1, 1}, {0, 1}, {1, 2}, {2, 2}}},
		{name: "zero bucket", schema: 6, values: []float64{0, math.Copysign(0, -1), ZeroThreshold, -ZeroThreshold, 5e-324},
			count: 5, zero: 5, sum: 5e-324, min: -ZeroThreshold, max: ZeroThreshold},
		{name: "just above zero threshold", schema: 0, values: []float64{tiny, -tiny},
			count: 2, sum: 0, min: -tiny, max: tiny, positive: bucketList{{-127, 1}}, negative: bucketList{{-127, 1}}},
		{name: "largest finite", schema: 8, values: []float64{math.MaxFloat64}, count: 1,
			sum: math.MaxFloat64, min: math.MaxFloat64, max: math.MaxFloat64, positive: bucketList{{1024 << 8, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sketchOf(tt.schema, tt.values)
			checkInvariants(t, s)
			if s.Count() != tt.count || s.ZeroCount() != tt.zero {
				t.Errorf("count, zero = %d, %d, want %d, %d", s.Count(), s.ZeroCount(), tt.count, tt.zero)
			}
			if tt.wantEmptyMinMaxAsNaN {
				if !math.IsNaN(s.Min()) || !math.IsNaN(s.Max()) || !math.IsNaN(s.Quantile(0.5)) || s.Sum() != 0 {
					t.Errorf("empty: min %v max %v p50 %v sum %v, want NaN NaN NaN 0", s.Min(), s.Max(), s.Quantile(0.5), s.Sum())
				}
			} else if !sameFloat(s.Sum(), tt.sum, 1e-15) || s.Min() != tt.min || s.Max() != tt.max {
				t.Errorf("sum, min, max = %v, %v, %v, want %v, %v, %v", s.Sum(), s.Min(), s.Max(), tt.sum, tt.min, tt.max)
			}
			if got := listBuckets(s.ForEachBucket); fmt.Sprint(got) != fmt.Sprint(tt.positive) {
				t.Errorf("positive buckets %v, want %v", got, tt.positive)
			}
			if got := listBuckets(s.ForEachNegativeBucket); fmt.Sprint(got) != fmt.Sprint(tt.negative) {
				t.Errorf("negative buckets %v, want %v", got, tt.negative)
			}
			pos, neg := s.NativeBuckets()
			if len(pos) != len(tt.positive) || len(neg) != len(tt.negative) {
				t.Errorf("NativeBuckets: %v, %v, want %v, %v", pos, neg, tt.positive, tt.negative)
			}
			for _, b := range tt.positive {
				if pos[int(b[0])] != b[1] {
					t.Errorf("NativeBuckets positive[%d] = %d, want %d", b[0], pos[int(b[0])], b[1])
				}
			}
			for _, b := range tt.negative {
				if neg[int(b[0])] != b[1] {
					t.Errorf("NativeBuckets negative[%d] = %d, want %d", b[0], neg[int(b[0])], b[1])
				}
			}
		})
	}
}

func TestAddN(t *testing.T) {
	values := logNormal(1, 1000, 1)
	tests := []struct {
		name string
		n    uint64
	}{{"n=1", 1}, {"n=3", 3}, {"n=1e12", 1e12}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := New(6), New(6)
			for _, v := range values {
				got.AddN(v, tt.n)
				got.AddN(v, 0)
				want.Add(v)
			}
			if got.Count() != tt.n*want.Count() || got.Min() != want.Min() || got.Max() != want.Max() ||
				!sameFloat(got.Sum(), float64(tt.n)*want.Sum(), 1e-12) {
				t.Fatalf("count %d sum %v min %v max %v", got.Count(), got.Sum(), got.Min(), got.Max())
			}
			want.ForEachBucket(func(i int32, c uint64) {
				if g, _ := got.NativeBuckets(); g[int(i)] != int64(c*tt.n) {
					t.Fatalf("bucket %d: %d, want %d", i, g[int(i)], c*tt.n)
				}
			})
		})
	}
}

func TestResetAndClone(t *testing.T) {
	tests := []struct {
		name   string
		schema int32
		values []float64
	}{
		{"latencies", 6, logNormal(2, 10000, 1)},
		{"mixed signs and zeros", 3, []float64{-5, -0.001, 0, 0, 1e-9, 7, 7, 1e6}},
		{"downscaled by span", 8, []float64{1e-30, 1e30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sketchOf(tt.schema, tt.values)
			c := s.Clone()
			if d := diff(c, s, 0); d != "" {
				t.Fatalf("clone differs: %s", d)
			}
			c.Add(123)
			c.Add(-123)
			if s.Count() != uint64(len(tt.values)) {
				t.Fatalf("adding to the clone changed the original: count %d", s.Count())
			}
			s.Reset()
			if d := diff(s, New(tt.schema), 0); d != "" {
				t.Fatalf("after Reset: %s", d)
			}
			for _, v := range tt.values {
				s.Add(v)
			}
			if d := diff(s, sketchOf(tt.schema, tt.values), 0); d != "" {
				t.Fatalf("refilled after Reset: %s", d)
			}
		})
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	values := logNormal(3, 1<<12, 1)
	for _, schema := range []int32{-4, 0, 4, 6, 8} {
		t.Run(fmt.Sprint("schema=", schema), func(t *testing.T) {
			s := sketchOf(schema, values)
			for _, v := range values {
				s.Add(-v * 2) // grow the negative array once
			}
			i := 0
			allocs := testing.AllocsPerRun(10000, func() {
				s.Add(values[i%len(values)])
				s.Add(-values[i%len(values)] * 2)
				i++
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per Add in steady state", allocs)
			}
		})
	}
}
