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
	h, err := parse(data)
	if err != nil {
		return err
	}
	s.schema, s.initSchema = h.schema, h.schema
	s.count, s.zero, s.sum, s.min, s.max = h.count, h.zero, h.sum, h.min, h.max
	s.pos.fill(h.pos)
	s.neg.fill(h.neg)
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
	items  []byte // the set's counts and empty runs, as encoded (see addItems)
}

// parse validates data. The counts of its buckets stay encoded in the sets'
// items, for the caller to read (addItems) once the whole encoding is valid.
func parse(data []byte) (header, error) { return parseAdding(data, nil, nil) }

// parseAdding is parse that also adds the counts of the positive and negative
// buckets as it reads them, each set to the array its into returns (see
// decoder.set; nil into or a nil array: only validated). On an error every
// count added has been subtracted again.
func parseAdding(data []byte, pos, neg func(lo, hi int32) []uint64) (header, error) {
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
	var posDst, negDst []uint64
	h.pos = d.set("positive buckets: ", h.schema, keep(pos, &posDst))
	h.neg = d.set("negative buckets: ", h.schema, keep(neg, &negDst))
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
	if d.err != nil {
		// The sets read in full were added whole; a set that failed took its
		// own counts back (and has no items).
		for _, x := range []struct {
			dst []uint64
			h   setHeader
		}{{posDst, h.pos}, {negDst, h.neg}} {
			if x.dst != nil {
				eachItem(x.h.items, func(k int, c uint64) { x.dst[k] -= c })
			}
		}
	}
	return h, d.err
}

// keep wraps into so that the array it returns is also stored in *dst.
func keep(into func(lo, hi int32) []uint64, dst *[]uint64) func(lo, hi int32) []uint64 {
	if into == nil {
		return nil
	}
	return func(lo, hi int32) []uint64 {
		*dst = into(lo, hi)
		return *dst
	}
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

// fill replaces b's counts with those of the validated set h, reusing b's
// array if it is large enough.
func (b *buckets) fill(h setHeader) {
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
	addItems(h.items, b.counts[:h.span])
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
//
// With into, it also adds the set's counts to the array into returns for the
// set's lowest and highest bucket (the count of bucket lo+k to its [k]), as it
// reads them: MergeBinary's single pass. into returning nil only validates. On
// an error the counts added are subtracted again, leaving the array as it was.
func (d *decoder) set(where string, schema int32, into func(lo, hi int32) []uint64) setHeader {
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
	var dst []uint64
	if into != nil {
		if dst = into(h.lo, h.hi); dst != nil {
			dst = dst[:h.span:h.span]
		}
	}
	// The loop is the decoder's hot path (a query reads every window's buckets
	// through it, and Load validates them all). Where eight bytes are left it
	// reads them into a word and takes from it, without further loads or
	// bounds checks, the usual items of one byte each: eight counts of 1 to 127
	// at once (the dense middle of a sketch of many values), a count and the
	// empty run after it (a sparse sketch's items come in these pairs), one
	// count, or one empty run. Anything else (counts or runs of several bytes,
	// the last bytes, errors) takes the general path below. Each item is
	// checked whole before its count is added, so that on an error the items
	// before it are what fail subtracts.
	p, j := d.data, 0
	fail := func(format string, args ...any) setHeader {
		if dst != nil {
			eachItem(p[:j], func(k int, c uint64) { dst[k] -= c })
		}
		d.fail(format, args...)
		return h
	}
	for k := 0; k < h.span; {
		if len(p)-j >= 8 {
			x := binary.LittleEndian.Uint64(p[j:])
			c := x & 0xff
			switch {
			case h.span-k >= 8 && x&highBits == 0 && (x-lowBits)&^x&highBits == 0:
				// Eight counts of 1 to 127: no byte has its high bit set or is zero.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, sumBytes(x), 0); carry != 0 {
					return fail("counts overflow")
				}
				if dst != nil {
					addBytes(dst[k:k+8:k+8], x)
				}
				j += 8
				k += 8
				continue
			case c-1 < 0x7f && x&0x80ff00 == 0 && h.span-k >= 2:
				// A count of 1 to 127, not the set's last, and the empty run of
				// one byte after it.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
					return fail("counts overflow")
				}
				run := int(x >> 16 & 0xff)
				if run >= h.span-k-2 {
					return fail("empty run of %d at bucket %d of %d", run+1, k+1, h.span)
				}
				if dst != nil {
					dst[k] += c
				}
				j += 3
				k += run + 2
				continue
			case c-1 < 0x7f:
				// One count of 1 to 127.
				var carry uint64
				if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
					return fail("counts overflow")
				}
				if dst != nil {
					dst[k] += c
				}
				j++
				k++
				continue
			case c == 0 && x&0x8000 == 0:
				// An empty run of one byte.
				run := int(x >> 8 & 0xff)
				if k == 0 || run >= h.span-k-1 {
					return fail("empty run of %d at bucket %d of %d", run+1, k, h.span)
				}
				j += 2
				k += run + 1
				continue
			}
		}
		if j >= len(p) {
			d.data = p[j:]
			return fail("count: truncated or overflowing uvarint")
		}
		c, n := uint64(p[j]), 1
		if c >= 0x80 {
			if c, n = binary.Uvarint(p[j:]); n <= 0 {
				d.data = p[j:]
				return fail("count: truncated or overflowing uvarint")
			}
		}
		if c != 0 {
			var carry uint64
			if h.total, carry = bits.Add64(h.total, c, 0); carry != 0 {
				return fail("counts overflow")
			}
			if dst != nil {
				dst[k] += c
			}
			j += n
			k++
			continue
		}
		run, m := uvarintAt(p, j+n)
		if m <= 0 {
			d.data = p[j+n:]
			return fail("empty run: truncated or overflowing uvarint")
		}
		if k == 0 || run >= uint64(h.span-k-1) {
			return fail("empty run of %d at bucket %d of %d", run+1, k, h.span)
		}
		j += n + m
		k += int(run) + 1
	}
	h.items = p[:j:j]
	d.data = p[j:]
	return h
}
