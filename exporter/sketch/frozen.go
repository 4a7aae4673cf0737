package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A frozen sketch holds its buckets as the encoding it was loaded from (Load),
// not as arrays. Counts, Sum, Min, Max, Schema, Quantile and AppendBinary read
// it as it is; a method that changes the sketch decodes the buckets first
// (thaw), and the few that walk buckets read a decoded copy. A query keeps
// each window it reads this way: a window's buckets of one sign span hundreds of
// indexes (a dense array of several KiB) but only a few are non-empty, and its
// encoding is about a hundred bytes.

// Load replaces s with the sketch encoded in data, as UnmarshalBinary does, but
// keeps data as s's buckets instead of decoding them (see frozen sketches
// above): data must not be modified afterwards. It validates data as strictly as
// UnmarshalBinary, and on an error leaves s unchanged. Loading does not
// allocate.
func (s *Sketch) Load(data []byte) error {
	h, err := parse(data)
	if err != nil {
		return err
	}
	s.schema, s.initSchema = h.schema, h.schema
	s.count, s.zero, s.sum, s.min, s.max = h.count, h.zero, h.sum, h.min, h.max
	s.pos.freeze(h.pos)
	s.neg.freeze(h.neg)
	s.enc = data
	return nil
}

// Frozen reports whether s still holds its buckets as an encoding (Load).
func (s *Sketch) Frozen() bool { return s.enc != nil }

// freeze empties b's array (keeping its memory for thaw) and records the
// extent of the set h.
func (b *buckets) freeze(h setHeader) {
	b.counts = b.counts[:0]
	b.lo, b.hi, b.any = h.lo, h.hi, h.span > 0
}

// thaw decodes the buckets of a frozen sketch into its arrays.
func (s *Sketch) thaw() {
	h, err := parse(s.enc)
	if err != nil {
		// Load validated the encoding, which is never modified.
		panic(fmt.Sprintf("sketch: a frozen sketch's encoding no longer decodes: %v", err))
	}
	s.pos.fill(h.pos)
	s.neg.fill(h.neg)
	s.enc = nil
}

// decoded returns s if it is not frozen, else a decoded copy, for the methods
// that only read buckets (and so never change a frozen sketch another goroutine
// may be reading).
func (s *Sketch) decoded() *Sketch {
	if s.enc == nil {
		return s
	}
	c := *s
	c.pos, c.neg = buckets{}, buckets{}
	c.thaw()
	return &c
}

// quantileFrozen is Quantile of a frozen sketch with no negative buckets, read
// from its encoding: r is the rank among the positive buckets (past the zero
// bucket).
func (s *Sketch) quantileFrozen(r uint64) float64 {
	p := s.enc[2:] // version, schema
	_, n := binary.Uvarint(p)
	p = p[n:] // zero count
	span, n := binary.Uvarint(p)
	p = p[n:]
	first, n := binary.Varint(p)
	p = p[n:]
	// Load validated the set: the items cover span buckets and add up past r.
	i := int32(first)
	for k := uint64(0); k < span; {
		c, n := uvarintAt(p, 0)
		p = p[n:]
		if c == 0 {
			run, n := uvarintAt(p, 0)
			p = p[n:]
			k += run + 1
			i += int32(run) + 1
			continue
		}
		if r <= c {
			return min(max(s.estimate(i), s.min), s.max)
		}
		r -= c
		k++
		i++
	}
	return math.NaN() // unreachable for a valid encoding
}
