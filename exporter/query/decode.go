package query

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// windowDecoder decodes the header of stored windows (aggregate.Value) into one
// reused aggregate, and hands back the window's sketch still encoded: a scan
// allocates only for the points it keeps, and merges the sketches of the
// windows of a point with sketch.MergeBinary, never decoding one (see
// mergeWindow).
//
// Why not aggregate.Value.UnmarshalBinary: it allocates an aggregate and a
// sketch per window, and always decodes the sketch, which costs most of a scan.
// A query that asks for no quantile skips the sketch's bytes here. The header
// layout is aggregate's version 1; anything else falls back to aggregate's own
// decoder (for its error, or a layout this one does not know), and a test
// checks both agree.
type windowDecoder struct {
	agg  aggregate.Aggregate
	mem  []byte      // see keep
	aggs []aggSketch // newAggregate's, allocated aggChunk at a time
}

// decode returns the window's end and last event time, its aggregate without
// a sketch (valid until the next call), and its encoded sketch: nil if it has
// none or withSketch is false. When the fallback decodes the window, the
// aggregate carries the decoded sketch instead and sk is nil.
func (d *windowDecoder) decode(b []byte, withSketch bool) (end, last int64, _ *aggregate.Aggregate, sk []byte, err error) {
	const version, flagSketch = 1, 1
	if len(b) < 2 || b[0] != version {
		return d.fallback(b, withSketch)
	}
	flags, r := b[1], b[2:]
	var ints [2]int64
	for i := range ints {
		x, n := binary.Varint(r)
		if n <= 0 {
			return d.fallback(b, withSketch)
		}
		ints[i], r = x, r[n:]
	}
	var counts [4]uint64
	for i := range counts {
		x, n := binary.Uvarint(r)
		if n <= 0 {
			return d.fallback(b, withSketch)
		}
		counts[i], r = x, r[n:]
	}
	if len(r) < 24 {
		return d.fallback(b, withSketch)
	}
	a := &d.agg
	a.Count, a.ClientErrors, a.ServerErrors, a.Values = counts[0], counts[1], counts[2], counts[3]
	a.Sum = math.Float64frombits(binary.LittleEndian.Uint64(r))
	a.Min = math.Float64frombits(binary.LittleEndian.Uint64(r[8:]))
	a.Max = math.Float64frombits(binary.LittleEndian.Uint64(r[16:]))
	a.Sketch = nil
	r = r[24:]
	switch {
	case flags&flagSketch == 0 && len(r) != 0:
		return d.fallback(b, withSketch) // reports the trailing bytes
	case flags&flagSketch != 0 && withSketch:
		// A sketch of fewer than 2 bytes is corrupt: the fallback says how.
		if len(r) < 2 {
			return d.fallback(b, withSketch)
		}
		sk = r
	}
	return ints[0], ints[1], a, sk, nil
}

func (d *windowDecoder) fallback(b []byte, withSketch bool) (end, last int64, _ *aggregate.Aggregate, sk []byte, err error) {
	var v aggregate.Value
	if err := v.UnmarshalBinary(b); err != nil {
		return 0, 0, nil, nil, err
	}
	if !withSketch {
		v.Agg.Sketch = nil
	}
	return v.End, v.Last, v.Agg, nil, nil
}

// aggSketch is an aggregate and its sketch in one allocation.
type aggSketch struct {
	agg aggregate.Aggregate
	sk  sketch.Sketch
}

// newAggregate returns a copy of a window decoded by decode, its sketch loaded
// from sk (a frozen sketch: see sketch.Sketch.Load) in a copy of sk that d
// keeps. A point of one window thus holds about a hundred bytes of encoding
// instead of the dense bucket arrays decoding gives (several KiB for a window of
// latencies), and its quantiles are read from the encoding; the first window
// merged into it decodes it.
func (d *windowDecoder) newAggregate(agg *aggregate.Aggregate, sk []byte) (*aggregate.Aggregate, error) {
	if sk == nil {
		return agg.Clone(), nil
	}
	if len(d.aggs) == cap(d.aggs) {
		// Small first, as most queries keep few points: doubling up to aggChunk.
		d.aggs = make([]aggSketch, 0, min(max(2*cap(d.aggs), 4), aggChunk))
	}
	d.aggs = append(d.aggs, aggSketch{agg: *agg})
	w := &d.aggs[len(d.aggs)-1]
	if err := w.sk.Load(d.keep(sk)); err != nil {
		d.aggs = d.aggs[:len(d.aggs)-1]
		return nil, corruptSketch(err)
	}
	w.agg.Sketch = &w.sk
	return &w.agg, nil
}

// aggChunk is the most aggregates newAggregate allocates at once.
const aggChunk = 128

// keepChunk is the largest buffer keep copies encodings into.
const keepChunk = 64 << 10

// keep returns a copy of b that lives as long as the points holding it, copied
// into a buffer shared with the other windows of the scan, so that a point costs
// no allocation of its own. The copies are never modified (frozen sketches).
func (d *windowDecoder) keep(b []byte) []byte {
	if len(b) > cap(d.mem)-len(d.mem) {
		// Small first, doubling up to keepChunk, as for the aggregates.
		d.mem = make([]byte, 0, max(min(2*cap(d.mem), keepChunk), 1024, len(b)))
	}
	i := len(d.mem)
	d.mem = append(d.mem, b...)
	return d.mem[i:len(d.mem):len(d.mem)]
}

// mergeWindow merges a window decoded by decode into *dst, which it
// allocates for the first window. The result is exactly what decoding the
// window and aggregate.Merge give: sketches merge with sketch.MergeBinary,
// which adds the same buckets as sketch.Merge. On an error *dst is unchanged.
func (d *windowDecoder) mergeWindow(dst **aggregate.Aggregate, agg *aggregate.Aggregate, sk []byte) error {
	a := *dst
	if a == nil {
		var err error
		*dst, err = d.newAggregate(agg, sk)
		return err
	}
	if sk != nil {
		if a.Sketch == nil {
			var s sketch.Sketch
			if err := s.Load(d.keep(sk)); err != nil {
				return corruptSketch(err)
			}
			a.Sketch = &s
		} else if err := a.Sketch.MergeBinary(sk); err != nil {
			return corruptSketch(err)
		}
	}
	a.Merge(agg)
	return nil
}

// corruptSketch wraps a sketch's decoding error as aggregate's decoder does.
func corruptSketch(err error) error { return fmt.Errorf("%w: %w", aggregate.ErrCorrupt, err) }
