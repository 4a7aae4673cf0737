package sketch

import "math"

const (
	minSchema = -4
	maxSchema = 8

	mantBits = 52
	mantMask = 1<<mantBits - 1
	signBit  = 1 << 63
	infBits  = 0x7ff << mantBits // bits of +Inf; |v| bits >= infBits means Inf or NaN
)

// zeroBits is the bit pattern of ZeroThreshold. For non-negative floats the bit patterns
// order like the values, so |v| <= ZeroThreshold is one integer comparison.
var zeroBits = math.Float64bits(ZeroThreshold)

// schemaTable is what bucket indexing and quantile estimation need for one schema.
//
// For schema > 0 the index of |v| = (1+m/2^52)·2^e (m the 52 mantissa bits, e the
// unbiased exponent) is e·2^s plus the number of octave bounds whose mantissa is below m:
// that is client_golang's sort.SearchFloat64s(nativeHistogramBounds[s], frac), because a
// bound b in [0.5, 1) and Frexp's frac = (1+m/2^52)/2 share the exponent, so comparing
// them is comparing mantissas. Instead of a binary search, first[m>>shift] gives that
// number at the start of the (s+1)-bit mantissa prefix holding m. Bounds are further apart
// than one prefix (2^(1/n)-1 > 1/(2n)), so at most one bound lies inside it: the one at
// mant[first[...]], and one comparison finishes the count. mant has a sentinel 2^52
// above every mantissa.
type schemaTable struct {
	first    []uint16
	mant     []uint64
	shift    uint
	factor   float64 // 2/(base+1): bucket upper bound times factor is the estimate
	minIndex int32   // index of the smallest value above ZeroThreshold
	maxIndex int32   // index of math.MaxFloat64
}

// tables is indexed by schema - minSchema.
var tables [maxSchema - minSchema + 1]schemaTable

func init() {
	for schema := int32(minSchema); schema <= maxSchema; schema++ {
		t := &tables[schema-minSchema]
		base := math.Exp2(math.Exp2(-float64(schema)))
		t.factor = 2 / (base + 1)
		if schema > 0 {
			bounds := nativeBounds[schema]
			t.mant = make([]uint64, len(bounds)+1)
			for j, b := range bounds {
				t.mant[j] = math.Float64bits(b) & mantMask
			}
			t.mant[len(bounds)] = 1 << mantBits
			prefixBits := uint(schema) + 1
			t.shift = mantBits - prefixBits
			t.first = make([]uint16, 1<<prefixBits)
			c := 0
			for p := range t.first {
				lo := uint64(p) << t.shift
				for t.mant[c] < lo {
					c++
				}
				t.first[p] = uint16(c)
			}
		}
		t.minIndex = index(math.Float64bits(math.Nextafter(ZeroThreshold, 1)), schema)
		t.maxIndex = index(math.Float64bits(math.MaxFloat64), schema)
	}
}

func table(schema int32) *schemaTable { return &tables[schema-minSchema] }

// index returns the bucket index of the finite, normal value whose absolute value has the
// bit pattern abs, at the given schema, exactly as client_golang computes it.
func index(abs uint64, schema int32) int32 {
	e := int32(abs>>mantBits) - 1023
	m := abs & mantMask
	if schema > 0 {
		t := &tables[schema-minSchema]
		c := t.first[m>>t.shift]
		if t.mant[c] < m {
			c++
		}
		return e<<schema + int32(c)
	}
	// Schema 0: 2^e is the upper bound of bucket e, (2^e, 2^(e+1)) is bucket e+1.
	k := e
	if m != 0 {
		k++
	}
	return downscaleIndex(k, -schema)
}

// downscaleIndex maps bucket i to the bucket that contains it delta schemas lower. Bucket
// i covers (base^(i-1), base^i]; 2^delta adjacent buckets merge into one, and bucket 0
// (upper bound 1) stays the bucket with upper bound 1.
func downscaleIndex(i int32, delta int32) int32 { return ((i - 1) >> delta) + 1 }

// upperBound returns the upper bound base^i of positive bucket i, from the same bounds
// that decide where values go. It is +Inf for the bucket above math.MaxFloat64.
func upperBound(i int32, schema int32) float64 {
	if schema <= 0 {
		return math.Ldexp(1, int(i)<<-schema)
	}
	n := int32(1) << schema
	e := i >> schema // floor(i / n)
	return math.Ldexp(nativeBounds[schema][i&(n-1)], int(e)+1)
}
