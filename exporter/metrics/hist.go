package metrics

import (
	"slices"

	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/sketch"
)

// hist is a running total's distribution as its histogram is exported: native
// buckets downscaled to metrics.histogram_schema, in the spans-and-deltas form of
// the exposition, and the cumulative counts of the classic buckets
// (metrics.classic_buckets, from sketch.ClassicCounts). It is built once when the
// total changes (not at every scrape, and without cloning the sketch), holds only
// the exported buckets, and is never modified afterwards, so scrapes share it.
type hist struct {
	schema   int32
	count    uint64
	zero     uint64
	sum      float64
	pos, neg spans
	classic  []uint64 // by View.classic bound, nil without classic buckets
}

type spans struct {
	spans  []span
	deltas []int64 // bucket counts, each as the difference to the previous one
}

type span struct {
	offset int32 // from the end of the previous span (the first: from index 0)
	length uint32
}

// zeroThreshold is shared by every exported histogram.
var zeroThreshold = sketch.ZeroThreshold

// histBuilder builds hists with reusable scratch space.
type histBuilder struct {
	scratch  *sketch.Sketch // at the exported schema
	pos, neg spanBuilder
}

// build converts s to h at schema min(schema, s.Schema()). The sketch
// package downscales it, exactly, by merging it into an empty sketch of that
// schema: a tight loop over s's buckets, allocating nothing once the scratch
// sketch has grown.
func (b *histBuilder) build(h *hist, s *sketch.Sketch, schema int32) {
	if b.scratch == nil || b.scratch.Schema() != schema {
		b.scratch = sketch.New(schema)
	}
	d := b.scratch
	d.Reset()
	d.Merge(s)
	*h = hist{schema: d.Schema(), count: d.Count(), zero: d.ZeroCount(), sum: d.Sum()}
	b.pos.reset()
	d.ForEachBucket(b.pos.add)
	b.neg.reset()
	d.ForEachNegativeBucket(b.neg.add)
	h.pos, h.neg = b.pos.result(), b.neg.result()
}

// spanBuilder turns buckets given in increasing index order into spans and
// deltas. Like client_golang's NewConstNativeHistogram, it joins spans separated
// by at most two empty buckets.
type spanBuilder struct {
	next    int32 // index after the last bucket written
	prev    int64 // count of the last bucket written
	started bool
	spans   []span
	deltas  []int64
}

func (b *spanBuilder) reset() {
	*b = spanBuilder{spans: b.spans[:0], deltas: b.deltas[:0]}
}

func (b *spanBuilder) add(i int32, count uint64) { b.write(i, int64(count)) }

func (b *spanBuilder) write(i int32, count int64) {
	gap := i - b.next
	if !b.started || gap > 2 {
		b.spans = append(b.spans, span{offset: gap})
		b.started = true
	} else {
		for range gap {
			b.append(0)
		}
	}
	b.append(count)
	b.next = i + 1
}

func (b *spanBuilder) append(count int64) {
	b.spans[len(b.spans)-1].length++
	b.deltas = append(b.deltas, count-b.prev)
	b.prev = count
}

// result returns a copy of the spans and deltas built, nil if none.
func (b *spanBuilder) result() spans {
	if len(b.deltas) == 0 {
		return spans{}
	}
	return spans{spans: append([]span(nil), b.spans...), deltas: append([]int64(nil), b.deltas...)}
}

// fill sets the histogram fields of m from h; m then points into h.
func (h *hist) fill(m *dto.Histogram) {
	m.SampleCount = &h.count
	m.SampleSum = &h.sum
	m.Schema = &h.schema
	m.ZeroThreshold = &zeroThreshold
	m.ZeroCount = &h.zero
	m.PositiveSpan, m.PositiveDelta = h.pos.dto(), h.pos.deltas
	m.NegativeSpan, m.NegativeDelta = h.neg.dto(), h.neg.deltas
}

// fillClassic sets the classic buckets of m from h, upper being their bounds;
// bs holds len(upper) buckets and ptrs as many pointers, which m then shares.
func (h *hist) fillClassic(m *dto.Histogram, upper []float64, bs []dto.Bucket, ptrs []*dto.Bucket) {
	for i := range h.classic {
		bs[i].CumulativeCount, bs[i].UpperBound = &h.classic[i], &upper[i]
		ptrs[i] = &bs[i]
	}
	m.Bucket = ptrs[:len(h.classic)]
}

// dto returns the spans as the exposition's messages, pointing into s.
func (s *spans) dto() []*dto.BucketSpan {
	if len(s.spans) == 0 {
		return nil
	}
	msgs := make([]dto.BucketSpan, len(s.spans))
	out := make([]*dto.BucketSpan, len(s.spans))
	for i := range s.spans {
		msgs[i].Offset, msgs[i].Length = &s.spans[i].offset, &s.spans[i].length
		out[i] = &msgs[i]
	}
	return out
}

// sumHists returns the sum of hs at the lowest of their schemas, the finer ones
// downscaled exactly. Only a key reported by several partitions needs it, so it
// favours simplicity over speed.
func sumHists(hs []*hist) hist {
	out := hist{schema: hs[0].schema}
	for _, h := range hs {
		out.schema = min(out.schema, h.schema)
	}
	pos, neg := map[int32]int64{}, map[int32]int64{}
	for _, h := range hs {
		out.count += h.count
		out.zero += h.zero
		out.sum += h.sum
		d := h.schema - out.schema
		// Bucket i at schema s covers (base^(i-1), base^i]: at schema s-d it
		// falls in bucket ceil(i / 2^d).
		h.pos.each(func(i int32, c int64) { pos[((i-1)>>d)+1] += c })
		h.neg.each(func(i int32, c int64) { neg[((i-1)>>d)+1] += c })
		if h.classic != nil && (out.classic == nil || len(out.classic) == len(h.classic)) {
			if out.classic == nil {
				out.classic = make([]uint64, len(h.classic))
			}
			for i, c := range h.classic {
				out.classic[i] += c
			}
		}
	}
	out.pos, out.neg = spansOf(pos), spansOf(neg)
	return out
}

// each calls f with the index and count of every bucket of s, in index order.
func (s *spans) each(f func(i int32, count int64)) {
	i, k, count := int32(0), 0, int64(0)
	for _, sp := range s.spans {
		i += sp.offset
		for range sp.length {
			count += s.deltas[k]
			k++
			f(i, count)
			i++
		}
	}
}

// spansOf returns the buckets of counts (by index) as spans.
func spansOf(counts map[int32]int64) spans {
	idx := make([]int32, 0, len(counts))
	for i := range counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var b spanBuilder
	for _, i := range idx {
		b.write(i, counts[i])
	}
	return b.result()
}
