package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// UnmarshalBinary replaces s with the sketch encoded in data (the format AppendBinary
// documents). It returns an error wrapping ErrCorrupt or ErrVersion, and leaves s
// unchanged, if data is not exactly one valid encoding: truncated, trailing bytes, a schema
// outside -4..8, bucket indexes outside the schema's range, a span over 4096 buckets,
// counts that overflow, or Min and Max that are not finite, out of order or not in the
// lowest and highest non-empty bucket. It never panics.
//
// The input is validated completely before s is touched, then decoded into s's bucket
// arrays if they are large enough: decoding into a reused sketch does not allocate, and
// a new one allocates at most 32 KiB per sign.
func (s *Sketch) UnmarshalBinary(data []byte) error {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	h, err := parseInto(data, &sc.pos, &sc.neg)
	if err != nil {
		return err
	}
	s.schema, s.initSchema = h.schema, h.schema
	s.count, s.zero, s.sum, s.min, s.max = h.count, h.zero, h.sum, h.min, h.max
	s.pos.fill(h.pos, sc.pos)
	s.neg.fill(h.neg, sc.neg)
	s.enc = nil
	return nil
}

// header is a validated encoding.
type header struct {
	schema        int32
	zero, count   uint64
	sum, min, max float64
	pos, neg      setHeader
}

// setHeader is a validated bucket set.
type setHeader struct {
	lo, hi int32  // the lowest and highest bucket, both non-empty; only if span > 0
	span   int    // 0 if the set is empty
	total  uint64 // sum of the counts
}

// parseInto validates data and decodes the counts of its positive and negative
// buckets into *pos and *neg, resized to the sets' spans, for the caller to use
// once the whole encoding is valid. It reads the encoding once.
func parseInto(data []byte, pos, neg *[]uint64) (header, error) {
	var h header
	if len(data) < 2 {
		return h, fmt.Errorf("%w: %d bytes, need at least 2", ErrCorrupt, len(data))
	}
	if data[0] != encodingVersion {
		return h, fmt.Errorf("%w: %d", ErrVersion, data[0])
	}
	h.schema = int32(int8(data[1]))
	if h.schema < minSchema || h.schema > maxSchema {
		return h, fmt.Errorf("%w: schema %d outside %d..%d", ErrCorrupt, h.schema, minSchema, maxSchema)
	}
	d := decoder{data: data[2:]}
	h.zero = d.uvarint("zero count")
	h.pos = d.set("positive buckets: ", h.schema, pos)
	h.neg = d.set("negative buckets: ", h.schema, neg)
	var c1, c2 uint64
	h.count, c1 = bits.Add64(h.zero, h.pos.total, 0)
	h.count, c2 = bits.Add64(h.count, h.neg.total, 0)
	if c1|c2 != 0 {
		d.fail("total count overflows")
	}
	h.min, h.max = math.Inf(1), math.Inf(-1)
	if h.count > 0 {
		h.sum, h.min, h.max = d.float(), d.float(), d.float()
	}
	if d.err == nil && len(d.data) > 0 {
		d.fail("%d trailing bytes", len(d.data))
	}
	if d.err == nil && h.count > 0 {
		d.err = checkMinMax(h.min, h.max, h.schema, h.zero, h.pos, h.neg)
	}
	return h, d.err
}

// place is where a value is counted.
type place struct {
	sign  int // -1 negative buckets, 0 zero bucket, 1 positive buckets
	index int32
}

func placeOf(v float64, schema int32) place {
	abs := math.Float64bits(v) &^ signBit
	switch {
	case abs <= zeroBits:
		return place{0, 0}
	case v < 0:
		return place{-1, index(abs, schema)}
	default:
		return place{1, index(abs, schema)}
	}
}

// checkMinMax checks that min and max are finite and lie in the lowest and highest
// non-empty bucket, which Add and Merge keep true and Quantile's clamping relies on.
func checkMinMax(min, max float64, schema int32, zero uint64, pos, neg setHeader) error {
	if math.IsInf(min, 0) || math.IsNaN(min) || math.IsInf(max, 0) || math.IsNaN(max) || min > max {
		return fmt.Errorf("%w: min %v, max %v", ErrCorrupt, min, max)
	}
	var lowest, highest place
	switch {
	case neg.span > 0:
		lowest = place{-1, neg.hi}
	case zero > 0:
		lowest = place{0, 0}
	default:
		lowest = place{1, pos.lo}
	}
	switch {
	case pos.span > 0:
		highest = place{1, pos.hi}
	case zero > 0:
		highest = place{0, 0}
	default:
		highest = place{-1, neg.lo}
	}
	if placeOf(min, schema) != lowest || placeOf(max, schema) != highest {
		return fmt.Errorf("%w: min %v or max %v outside the lowest or highest non-empty bucket", ErrCorrupt, min, max)
	}
	return nil
}

// fill replaces b's counts with the validated set h, decoded into counts,
// reusing b's array if it is large enough.
func (b *buckets) fill(h setHeader, counts []uint64) {
	b.counts = b.counts[:cap(b.counts)]
	clear(b.counts)
	b.lo, b.hi, b.any = h.lo, h.hi, h.span > 0
	if h.span == 0 {
		return
	}
	if len(b.counts) < h.span {
		b.counts = make([]uint64, h.span)
	}
	b.offset = h.lo
	copy(b.counts, counts[:h.span])
}

// uvarintAt is binary.Uvarint(p[j:]) with the one-byte case inlined: most
// bucket counts of a window are below 128.
func uvarintAt(p []byte, j int) (uint64, int) {
	if j < len(p) && p[j] < 0x80 {
		return uint64(p[j]), 1
	}
	return uvarintSlow(p, j)
}

func uvarintSlow(p []byte, j int) (uint64, int) {
	if j >= len(p) {
		return 0, 0
	}
	return binary.Uvarint(p[j:])
}

const (
	lowBits  = 0x0101010101010101 // 1 in each byte
	highBits = 0x8080808080808080 // each byte's high bit
)

// sumBytes returns the sum of the eight bytes of x, each below 128.
func sumBytes(x uint64) uint64 {
	// Pairs of bytes into four 16-bit lanes (at most 254 each), then the lanes
	// summed into the top one by a multiplication (at most 1016: no carry
	// crosses a lane).
	y := x&0x00ff00ff00ff00ff + x>>8&0x00ff00ff00ff00ff
	return y * 0x0001000100010001 >> 48
}

// decoder reads fields, remembering the first error so callers check once.
type decoder struct {
	data  []byte
	err   error
	where string // the bucket set being read, for errors
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s"+format, append([]any{ErrCorrupt, d.where}, args...)...)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.fail("%s: truncated or overflowing uvarint", what)
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.data)
	if n <= 0 {
		d.fail("%s: truncated or overflowing varint", what)
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.data) < 8 {
		d.fail("truncated float: %d bytes left", len(d.data))
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.data))
	d.data = d.data[8:]
	return v
}

// set validates one bucket set; where names it in errors ("positive buckets: ").
// It decodes the set into *counts: (*counts)[k] is the count of bucket lo+k, for
// the span of the set.
func (d *decoder) set(where string, schema int32, counts *[]uint64) setHeader {
	var h setHeader
	d.where = where
	defer func() { d.where = "" }()
	span := d.uvarint("span")
	if d.err != nil || span == 0 {
		return h
	}
	if span > maxSpan {
		d.fail("span %d over %d", span, maxSpan)
		return h
	}
	first := d.varint("first index")
	last := first + int64(span) - 1
	t := table(schema)
	if d.err == nil && (first < int64(t.minIndex) || last > int64(t.maxIndex)) {
		d.fail("%d..%d outside %d..%d at schema %d", first, last, t.minIndex, t.maxIndex, schema)
	}
	if d.err != nil {
		return h
	}
	h.lo, h.hi, h.span = int32(first), int32(last), int(span)
	var dst []uint64 // nil: only validate (Load)
	if counts != nil {
		if cap(*counts) < h.span {
			*counts = make([]uint64, h.span, max(h.span, initialLen))
		}
		*counts = (*counts)[:h.span]
		dst = *counts
		clear(dst) // once: a call per empty run would cost more
	}
	// The loop is the decoder's hot path (a query reads every window's buckets
	// through it, and Load validates them all). Where eight bytes are left it
	// reads them into a word and takes from it, without further loads or
	// bounds checks, the usual items of one byte each: eight counts of 1 to 127
	// at once (the dense middle of a sketch of many values), a count and the
	// empty run after it (a sparse sketch's items come in these pairs), one
	// count, or one empty run. Anything else (counts or runs of several bytes,
	// the last bytes, errors) takes the general path below.
	p, j := d.data, 0
	for k := 0; k < h.span; {
		if len(p)-j >= 8 {
			x := binary.LittleEndian.Uint64(p[j:])
			c := x & 0xff
			switch {
			case h.span-k >= 8 && x&highBits == 0 && (x-lowBits)&^x&highBits == 0:
				// Eight counts of 1 to 127: no byte has its high bit set or is zero.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, sumBytes(x), 0); carry != 0 {
					d.fail("counts overflow")
					return h
				}
				if dst != nil {
					for i, c := range p[j : j+8] {
						dst[k+i] = uint64(c)
					}
				}
				j += 8
				k += 8
				continue
			case c-1 < 0x7f && x&0x80ff00 == 0 && h.span-k >= 2:
				// A count of 1 to 127, not the set's last, and the empty run of
				// one byte after it.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
					d.fail("counts overflow")
					return h
				}
				if dst != nil {
					dst[k] = c
				}
				run := int(x >> 16 & 0xff)
				if k++; run >= h.span-k-1 {
					d.fail("empty run of %d at bucket %d of %d", run+1, k, h.span)
					return h
				}
				j += 3
				k += run + 1
				continue
			case c-1 < 0x7f:
				// One count of 1 to 127.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
					d.fail("counts overflow")
					return h
				}
				if dst != nil {
					dst[k] = c
				}
				j++
				k++
				continue
			case c == 0 && x&0x8000 == 0:
				// An empty run of one byte.
				run := int(x >> 8 & 0xff)
				if k == 0 || run >= h.span-k-1 {
					d.fail("empty run of %d at bucket %d of %d", run+1, k, h.span)
					return h
				}
				j += 2
				k += run + 1
				continue
			}
		}
		if j >= len(p) {
			d.data = p[j:]
			d.fail("count: truncated or overflowing uvarint")
			return h
		}
		c, n := uint64(p[j]), 1
		if c >= 0x80 {
			if c, n = binary.Uvarint(p[j:]); n <= 0 {
				d.data = p[j:]
				d.fail("count: truncated or overflowing uvarint")
				return h
			}
		}
		j += n
		if c != 0 {
			var carry uint64
			if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
				d.fail("counts overflow")
				return h
			}
			if dst != nil {
				dst[k] = c
			}
			k++
			continue
		}
		run, n := uvarintAt(p, j)
		if n <= 0 {
			d.data = p[j:]
			d.fail("empty run: truncated or overflowing uvarint")
			return h
		}
		j += n
		if k == 0 || run >= uint64(h.span-k-1) {
			d.fail("empty run of %d at bucket %d of %d", run+1, k, h.span)
			return h
		}
		k += int(run) + 1
	}
	d.data = p[j:]
	return h
}
