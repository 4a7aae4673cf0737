package query

import (
	"encoding/binary"
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// windowDecoder decodes stored windows into one reused aggregate, so a scan
// allocates only for the points it keeps.
//
// Why not aggregate.Value.UnmarshalBinary: it allocates an aggregate and a
// sketch per window, and always decodes the sketch, which costs most of a scan
// (sketch.UnmarshalBinary validates every bucket). A query that asks for no
// quantile skips the sketch here, and one that does decodes it into a reused
// sketch. The header layout is aggregate's version 1; any other version falls
// back to aggregate's own decoder, and a test checks both agree.
type windowDecoder struct {
	agg aggregate.Aggregate
	sk  sketch.Sketch
}

// decode returns the window's end and its aggregate, valid until the next call.
func (d *windowDecoder) decode(b []byte, withSketch bool) (end int64, _ *aggregate.Aggregate, err error) {
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
	r = r[24:]
	a.Sketch = nil
	switch {
	case flags&flagSketch == 0 && len(r) != 0:
		return d.fallback(b, withSketch) // reports the trailing bytes
	case flags&flagSketch != 0 && withSketch:
		if err := d.sk.UnmarshalBinary(r); err != nil {
			return d.fallback(b, withSketch)
		}
		a.Sketch = &d.sk
	}
	return ints[0], a, nil
}

func (d *windowDecoder) fallback(b []byte, withSketch bool) (int64, *aggregate.Aggregate, error) {
	var v aggregate.Value
	if err := v.UnmarshalBinary(b); err != nil {
		return 0, nil, err
	}
	if !withSketch {
		v.Agg.Sketch = nil
	}
	return v.End, v.Agg, nil
}
