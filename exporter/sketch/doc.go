// Package sketch is kwindow's mergeable percentile sketch: a histogram whose buckets are
// exactly Prometheus native-histogram buckets, so one structure serves window aggregation,
// merging across windows and instances, percentile queries and /metrics.
//
// # Buckets
//
// For schema s in -4..8 the base is 2^(2^-s). Positive bucket i counts the values in
// (base^(i-1), base^i]; bucket 0 has upper bound 1. Negative values are counted in a
// separate set by the bucket of |v|. Values with |v| <= ZeroThreshold (2^-128) go to the
// zero bucket. A value lands in the bucket client_golang v1.25.0 puts it in, boundaries
// included: indexes come from math.Frexp-style exponent and mantissa bits and
// client_golang's own table of octave bounds. Each sign's buckets are one dense array
// (offset + counts) that grows at either end; Add does not allocate once the array covers
// the values' range. NaN and ±Inf are ignored.
//
// # Error bound
//
// Quantile(q) estimates the value x of 1-based rank max(1, ceil(q·n)) among the n values
// added, sorted ascending. For |x| > ZeroThreshold the estimate is within
// RelativeError(Schema()) = (base-1)/(base+1) of x, relative to |x| (0.54 % at the default
// schema 6, 2.2 % at 4, 33 % at 0); for x in the zero bucket the estimate is within
// ZeroThreshold of x. q = 0 and q = 1 return the exact Min and Max. The bound holds after
// any number of merges, since merging is exact.
//
// # Invariants
//
//   - Count() == ZeroCount() + the sum of all bucket counts, always; this is also what
//     prometheus.NewConstNativeHistogram checks. Min and Max lie in the lowest and highest
//     non-empty bucket.
//   - Merging is exact: Merge of sketches of sets A and B (or MergeBinary of B's encoding,
//     which never decodes it into a sketch) equals the sketch of A ∪ B, bucket
//     for bucket (Sum up to float rounding). Downscale is exact: a sketch downscaled to
//     schema s equals one built at schema s from the same values, because the lower
//     schema's bucket boundaries are a subset of the higher one's.
//   - The non-empty buckets of one sign span at most 4096 indexes (2^64 at schema 6). A
//     value or merge that would exceed this lowers the schema just enough, trading
//     resolution for bounded memory (at most 32 KiB of counts per sign); Schema() reports it.
package sketch
