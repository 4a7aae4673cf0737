package aggregate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/kwindow/kwindow/exporter/sketch"
)

// Value is what the state store and the changelog hold for one window: where it ends,
// the latest event time in it, and its aggregate. The window start is in the key.
type Value struct {
	End  int64 // exclusive window end, unix ms
	Last int64 // largest event time in the window, unix ms
	Agg  *Aggregate
}

// The encoding, version 1:
//
//	byte     version (1)
//	byte     flags (bit 0: a sketch follows)
//	varint   End, Last
//	uvarint  Count, ClientErrors, ServerErrors, Values
//	8 bytes  Sum, Min, Max (IEEE 754, little endian)
//	rest     the sketch's own encoding, when flagged
const version = 1

const flagSketch = 1

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("aggregate: corrupt value")

// scratchLen is the stack buffer AppendBinary encodes into when dst has no room
// to spare: enough for a window's or a running total's value unless its sketch
// holds many hundreds of buckets.
const scratchLen = 1024

// AppendBinary appends the encoding of v to dst. Without scratchLen bytes to
// spare in dst, it encodes on the stack and grows dst once, to about the size of
// the encoding: a changelog value built from nil is one allocation (appending
// straight to nil cost a growth every doubling, half the allocations of a commit).
func (v Value) AppendBinary(dst []byte) ([]byte, error) {
	if cap(dst)-len(dst) >= scratchLen {
		return v.appendTo(dst), nil
	}
	var scratch [scratchLen]byte
	return append(dst, v.appendTo(scratch[:0])...), nil
}

func (v Value) appendTo(dst []byte) []byte {
	a := v.Agg
	flags := byte(0)
	if a.Sketch != nil {
		flags |= flagSketch
	}
	dst = append(dst, version, flags)
	dst = binary.AppendVarint(dst, v.End)
	dst = binary.AppendVarint(dst, v.Last)
	for _, n := range [...]uint64{a.Count, a.ClientErrors, a.ServerErrors, a.Values} {
		dst = binary.AppendUvarint(dst, n)
	}
	for _, f := range [...]float64{a.Sum, a.Min, a.Max} {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	if a.Sketch == nil {
		return dst
	}
	dst, _ = a.Sketch.AppendBinary(dst)
	return dst
}

// UnmarshalBinary decodes what AppendBinary wrote. It never panics on bad input.
func (v *Value) UnmarshalBinary(b []byte) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != version {
		return fmt.Errorf("%w: version %d, want %d", ErrCorrupt, b[0], version)
	}
	flags := b[1]
	r := reader{b: b[2:]}
	v.End, v.Last = r.varint(), r.varint()
	a := &Aggregate{}
	a.Count, a.ClientErrors, a.ServerErrors, a.Values = r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint()
	a.Sum, a.Min, a.Max = r.float(), r.float(), r.float()
	if r.err != nil {
		return r.err
	}
	if flags&flagSketch != 0 {
		a.Sketch = &sketch.Sketch{}
		if err := a.Sketch.UnmarshalBinary(r.b); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	} else if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	v.Agg = a
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: truncated %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) float() float64 {
	if len(r.b) < 8 {
		r.fail("float")
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return f
}
