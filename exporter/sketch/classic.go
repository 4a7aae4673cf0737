package sketch

import "math"

// ClassicCounts fills counts[k] with the cumulative count of a classic Prometheus
// histogram bucket le=upper[k], from the sketch's buckets; upper must be strictly
// increasing and len(counts) >= len(upper). The values above the last bound are the
// +Inf bucket's, Count() minus the last count.
//
// A sketch bucket whose range (l, u] lies within one classic bucket is attributed
// exactly. A bucket that straddles a bound b (l < b < u) is attributed whole to the
// classic bucket of its upper edge u, as if its values were all at u. So counts[k]
// is the exact count of the values <= b', b' the largest sketch bucket edge <= b,
// and b/base < b' <= b (base = 2^(2^-Schema())):
//
//	exact(<= b/base) <= counts[k] <= exact(<= b)
//
// In value, each bound acts as if lowered by less than a factor base (1.09 % at
// schema 6); in count, counts[k] misses at most the values of the one straddling
// bucket, all in (b/base, b]. A quantile read from the classic buckets is
// therefore never below the one the same bounds would give exactly. Negative
// values count in every bucket (the bounds are positive); the zero bucket's
// values, |v| <= ZeroThreshold, count from the first bound >= ZeroThreshold.
func (s *Sketch) ClassicCounts(upper []float64, counts []uint64) {
	s = s.decoded()
	neg := s.neg.count()
	k := 0
	for ; k < len(upper) && upper[k] < ZeroThreshold; k++ {
		counts[k] = neg
	}
	if k == len(upper) {
		return
	}
	cum := neg + s.zero
	last := s.lastIndexUnder(upper[k])
	for j, c := range s.pos.counts {
		i := s.pos.offset + int32(j)
		for i > last {
			counts[k] = cum
			if k++; k == len(upper) {
				return
			}
			last = s.lastIndexUnder(upper[k])
		}
		cum += c
	}
	for ; k < len(upper); k++ {
		counts[k] = cum
	}
}

// lastIndexUnder returns the highest index of a positive bucket whose every value
// is <= b (b > ZeroThreshold): the bucket holding b if b is its largest value, the
// one below it otherwise.
func (s *Sketch) lastIndexUnder(b float64) int32 {
	if b > math.MaxFloat64 {
		return math.MaxInt32
	}
	i := index(math.Float64bits(b), s.schema)
	if next := math.Nextafter(b, math.Inf(1)); next <= math.MaxFloat64 && index(math.Float64bits(next), s.schema) == i {
		return i - 1 // b is inside bucket i, not its upper edge
	}
	return i
}
