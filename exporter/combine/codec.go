package combine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// The repartition topic's records, version 2.
//
// A delta's key names what it is for, and decides its partition (see Partition):
//
//	byte     'D'
//	uvarint  length of the aggregation name, then the name
//	rest     the encoded group key (store.AppendGroup)
//
// and its value:
//
//	byte     version (2)
//	varint   source: the stage-1 input partition that wrote it, or -1 for a delta
//	         combined from the tasks of several (see Combiner.ProcessAt)
//	uvarint  number of parts, then each part:
//	  byte     flags: see the part* constants
//	  varint   Start           not for a late part
//	  uvarint  End - Start     not for a late part; > 0
//	  varint   Last            a late part only
//	  uvarint  Last - Start    not for a late part; < End - Start
//	  uvarint  Start - From    unless partNoFrom (From is math.MinInt64)
//	  uvarint  Count
//	  uvarint  ClientErrors    if partClientErrors, else 0
//	  uvarint  ServerErrors    if partServerErrors, else 0
//	  uvarint  Values, then 8 bytes each Sum, Min, Max (IEEE 754, little endian)
//	           if partValues; with partFromSketch they are the sketch's count,
//	           sum, min and max; with neither, 0, 0, +Inf and -Inf (no value)
//	  sketch   if partSketch: with partOneValue, its schema (a byte) and its one
//	           value (8 bytes, its Sum), else the compact encoding of appendSketch
//
// A late part's Start and End are 0 and its From math.MinInt64 (engine.Part:
// stage 2 ignores them). Times are relative to Start, so a part costs about 8
// bytes of times instead of 36, and nothing absent is written: stage 1 ships
// small parts (one key, one commit interval, often a handful of events) and
// the repartition topic is its largest cost.
//
// Version 1 (absolute varint times, aggregate.Value's own encoding) is not
// decoded any more: deltas live in the repartition topic only until stage 2
// has merged them (a day's retention at most), so an upgrade only needs that
// topic drained, or recreated, first; a version-1 record is ErrCorrupt.
//
// A watermark's key is 'W' and its source partition (4 bytes, big endian); its
// value is the version byte and its stream time (varint).
const (
	kindDelta     = 'D'
	kindWatermark = 'W'
	version       = 2
)

// The flags of a part.
const (
	partLate         = 1 << iota // the events late at stage 1
	partNoFrom                   // From is math.MinInt64 (always, for a late part)
	partClientErrors             // ClientErrors > 0
	partServerErrors             // ServerErrors > 0
	partValues                   // Values, Sum, Min, Max follow
	partSketch                   // a sketch follows
	partFromSketch               // Values, Sum, Min, Max are the sketch's (with partSketch, not partValues)
	partOneValue                 // the sketch holds one value (with partSketch)
)

// The sketch's schema range (sketch.New panics outside it) and encoding version.
const (
	minSketchSchema, maxSketchSchema = -4, 8
	sketchVersion                    = 1
)

// MaxRecordBytes bounds an encoded delta record, key and value: Flush splits a key's
// parts over several Deltas to stay under it. Only a single part larger than that
// (a sketch of tens of thousands of buckets) can exceed it.
const MaxRecordBytes = 256 << 10

// ErrCorrupt is wrapped by every error of DecodeRecord.
var ErrCorrupt = errors.New("combine: corrupt repartition record")

// AppendDeltaKey appends the key of a delta of group key group (encoded) of the
// aggregation named aggName to dst.
func AppendDeltaKey(dst []byte, aggName, group string) []byte {
	dst = append(dst, kindDelta)
	dst = binary.AppendUvarint(dst, uint64(len(aggName)))
	dst = append(dst, aggName...)
	return append(dst, group...)
}

// AppendDeltaValue appends the value of delta d, written by stage-1 partition
// source, to dst. It fails only for a part without an aggregate.
func AppendDeltaValue(dst []byte, source int32, d *Delta) ([]byte, error) {
	dst = append(dst, version)
	dst = binary.AppendVarint(dst, int64(source))
	dst = binary.AppendUvarint(dst, uint64(len(d.Parts)))
	for i := range d.Parts {
		var err error
		if dst, err = appendPart(dst, &d.Parts[i]); err != nil {
			return dst, fmt.Errorf("combine: part %d of %q: %w", i, d.Group, err)
		}
	}
	return dst, nil
}

func appendPart(dst []byte, p *engine.Part) ([]byte, error) {
	a := p.Agg
	if a == nil {
		return dst, errors.New("no aggregate")
	}
	flags := byte(0)
	if p.Late {
		flags |= partLate | partNoFrom
	} else if p.From == math.MinInt64 {
		flags |= partNoFrom
	}
	if a.ClientErrors > 0 {
		flags |= partClientErrors
	}
	if a.ServerErrors > 0 {
		flags |= partServerErrors
	}
	s := a.Sketch
	switch {
	case s != nil && s.Count() > 0 && a.Values == s.Count() && same(a.Sum, s.Sum()) && same(a.Min, s.Min()) && same(a.Max, s.Max()):
		flags |= partFromSketch
	case a.Values != 0 || !same(a.Sum, 0) || !same(a.Min, math.Inf(1)) || !same(a.Max, math.Inf(-1)):
		flags |= partValues
	}
	if s != nil {
		flags |= partSketch
		if oneValue(s) {
			flags |= partOneValue
		}
	}
	dst = append(dst, flags)
	if p.Late {
		dst = binary.AppendVarint(dst, p.Last)
	} else {
		dst = binary.AppendVarint(dst, p.Start)
		dst = binary.AppendUvarint(dst, uint64(p.End)-uint64(p.Start))
		dst = binary.AppendUvarint(dst, uint64(p.Last)-uint64(p.Start))
		if flags&partNoFrom == 0 {
			dst = binary.AppendUvarint(dst, uint64(p.Start)-uint64(p.From))
		}
	}
	dst = binary.AppendUvarint(dst, a.Count)
	if flags&partClientErrors != 0 {
		dst = binary.AppendUvarint(dst, a.ClientErrors)
	}
	if flags&partServerErrors != 0 {
		dst = binary.AppendUvarint(dst, a.ServerErrors)
	}
	if flags&partValues != 0 {
		dst = binary.AppendUvarint(dst, a.Values)
		dst = appendFloats(dst, a.Sum, a.Min, a.Max)
	}
	switch {
	case s == nil:
	case flags&partOneValue != 0:
		dst = append(dst, byte(int8(s.Schema())))
		dst = appendFloats(dst, s.Sum())
	default:
		dst = appendSketch(dst, s)
	}
	return dst, nil
}

// same reports whether x and y are the same float64, bit for bit.
func same(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) }

// oneValue reports whether s holds one value, its Sum: then it is what
// sketch.New(s.Schema()) and Add(s.Sum()) make, since the sketch keeps its min and
// max in its lowest and highest non-empty bucket (and decoding checks it).
func oneValue(s *sketch.Sketch) bool {
	return s.Count() == 1 && same(s.Min(), s.Sum()) && same(s.Max(), s.Sum())
}

func appendFloats(dst []byte, fs ...float64) []byte {
	for _, f := range fs {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
	}
	return dst
}

// appendSketch appends the compact encoding of s, which lists the non-empty
// buckets rather than the span from the lowest to the highest (a part's sketch
// holds few values over many buckets):
//
//	byte     schema (int8)
//	uvarint  zero-bucket count
//	positive bucket set, then negative bucket set:
//	  uvarint  number n of non-empty buckets
//	  varint   index of the first, if n > 0
//	  n items: uvarint gap<<1 | (count == 1), gap the empty buckets before it
//	           (for the first, after the index), then uvarint count if not 1
//	8 bytes  sum, min, max, if the count is > 0
//
// decodeSketch turns it back into the sketch's own encoding, which
// sketch.UnmarshalBinary checks.
func appendSketch(dst []byte, s *sketch.Sketch) []byte {
	dst = append(dst, byte(int8(s.Schema())))
	dst = binary.AppendUvarint(dst, s.ZeroCount())
	dst = appendBuckets(dst, s.ForEachBucket)
	dst = appendBuckets(dst, s.ForEachNegativeBucket)
	if s.Count() > 0 {
		dst = appendFloats(dst, s.Sum(), s.Min(), s.Max())
	}
	return dst
}

func appendBuckets(dst []byte, forEach func(func(int32, uint64))) []byte {
	n := 0
	forEach(func(int32, uint64) { n++ })
	dst = binary.AppendUvarint(dst, uint64(n))
	prev, first := int32(0), true
	forEach(func(i int32, c uint64) {
		gap := uint64(0)
		if first {
			dst = binary.AppendVarint(dst, int64(i))
			first = false
		} else {
			gap = uint64(i - prev - 1)
		}
		prev = i
		if c == 1 {
			dst = binary.AppendUvarint(dst, gap<<1|1)
			return
		}
		dst = binary.AppendUvarint(dst, gap<<1)
		dst = binary.AppendUvarint(dst, c)
	})
	return dst
}

// AppendWatermark appends the key and the value of the watermark record of stage-1
// partition source at stream time streamTime to key and value.
func AppendWatermark(key, value []byte, source int32, streamTime int64) ([]byte, []byte) {
	key = append(key, kindWatermark)
	key = binary.BigEndian.AppendUint32(key, uint32(source))
	value = append(value, version)
	value = binary.AppendVarint(value, streamTime)
	return key, value
}

// Record is one decoded repartition record.
type Record struct {
	Watermark  bool
	Source     int32  // the stage-1 input partition that wrote it (-1: several, for a delta)
	StreamTime int64  // watermark records
	AggName    string // delta records
	Delta      Delta  // delta records (Agg left 0: the caller maps AggName to an index)

	// What the next DecodeRecord into the record reuses: the last delta's
	// aggregation name, the parts, their aggregates and sketches (by part), and
	// scratch space for a sketch.
	name     string
	parts    []engine.Part
	aggs     []aggregate.Aggregate
	sketches []*sketch.Sketch
	std      []byte
	items    []item
}

// DecodeRecord decodes a repartition record into r, overwriting every field. The
// parts and their aggregates are r's and alias neither key nor value: the next
// DecodeRecord into r reuses them (stage 2 decodes every delta into one Record
// and merges its parts at once; a new sketch per part was a tenth of what the
// exporter allocated), so a caller must not keep them past it. The group key is
// a new string each time. It never panics on bad input; its errors wrap
// ErrCorrupt. A non-late part is checked to be a non-empty interval holding
// Last, with From at or before its Start.
func DecodeRecord(key, value []byte, r *Record) error {
	*r = Record{name: r.name, parts: r.parts, aggs: r.aggs, sketches: r.sketches, std: r.std, items: r.items}
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrCorrupt)
	}
	if len(value) == 0 || value[0] != version {
		return fmt.Errorf("%w: value does not start with version %d", ErrCorrupt, version)
	}
	d := decoder{b: value[1:], r: r}
	switch key[0] {
	case kindWatermark:
		if len(key) != 5 {
			return fmt.Errorf("%w: watermark key of %d bytes, want 5", ErrCorrupt, len(key))
		}
		r.Watermark = true
		r.Source = int32(binary.BigEndian.Uint32(key[1:]))
		r.StreamTime = d.varint("stream time")
		return d.end()
	case kindDelta:
	default:
		return fmt.Errorf("%w: key kind 0x%02x", ErrCorrupt, key[0])
	}
	n, l := binary.Uvarint(key[1:])
	if l <= 0 || n > uint64(len(key)-1-l) {
		return fmt.Errorf("%w: delta key: bad aggregation name length", ErrCorrupt)
	}
	if name := key[1+l : 1+l+int(n)]; string(name) != r.name {
		r.name = string(name) // else the same aggregation as the delta before: no new string
	}
	r.AggName = r.name
	r.Delta.Group = string(key[1+l+int(n):])
	src := d.varint("source")
	if src < math.MinInt32 || src > math.MaxInt32 {
		d.fail("source %d out of the int32 range", src)
	}
	r.Source = int32(src)
	count := d.uvarint("part count")
	if d.err == nil && count > uint64(len(d.b)/3) { // a part takes 3 bytes or more
		d.fail("%d parts in %d bytes", count, len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	if n := int(count); n > len(r.parts) {
		r.parts = make([]engine.Part, n)
		r.aggs = make([]aggregate.Aggregate, n)
		r.sketches = append(r.sketches, make([]*sketch.Sketch, n-len(r.sketches))...)
	}
	r.Delta.Parts = r.parts[:count]
	for i := range r.Delta.Parts {
		if err := d.part(i); err != nil {
			return fmt.Errorf("%w (part %d)", err, i)
		}
	}
	return d.end()
}

type decoder struct {
	b   []byte
	err error
	r   *Record // what part reuses
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	d.b = nil
}

func (d *decoder) varint(what string) int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("truncated %s", what)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) uvarint(what string) uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated %s", what)
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) byte(what string) byte {
	if len(d.b) == 0 {
		d.fail("truncated %s", what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) float(what string) float64 {
	if len(d.b) < 8 {
		d.fail("truncated %s", what)
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// part decodes part i of the record into r.Delta.Parts[i], reusing r's
// aggregate and sketch of that index.
func (d *decoder) part(i int) error {
	p := &d.r.Delta.Parts[i]
	*p = engine.Part{}
	flags := d.byte("part")
	p.Late = flags&partLate != 0
	switch {
	case d.err != nil:
		return d.err
	case p.Late && flags&partNoFrom == 0:
		d.fail("late part with a From")
	case flags&partFromSketch != 0 && flags&(partValues|partSketch) != partSketch:
		d.fail("part flags 0x%02x: values from no sketch", flags)
	case flags&partOneValue != 0 && flags&partSketch == 0:
		d.fail("part flags 0x%02x: one value of no sketch", flags)
	}
	p.From = math.MinInt64
	if p.Late {
		p.Last = d.varint("last")
	} else {
		p.Start = d.varint("start")
		size, last := d.uvarint("end"), d.uvarint("last")
		// Start + size must not pass math.MaxInt64: size <= MaxInt64 - Start,
		// computed without overflow in uint64.
		if d.err == nil && (size == 0 || size > uint64(math.MaxInt64)-uint64(p.Start) || last >= size) {
			d.fail("part at %d of %d ms, last at +%d", p.Start, size, last)
		}
		p.End, p.Last = int64(uint64(p.Start)+size), int64(uint64(p.Start)+last)
		if flags&partNoFrom == 0 {
			// From = Start - back must not pass math.MinInt64.
			back := d.uvarint("from")
			if d.err == nil && back > uint64(p.Start)-1<<63 {
				d.fail("from %d ms before %d", back, p.Start)
			}
			p.From = int64(uint64(p.Start) - back)
		}
	}
	a := &d.r.aggs[i]
	*a = aggregate.Aggregate{Count: d.uvarint("count"), Min: math.Inf(1), Max: math.Inf(-1)}
	if flags&partClientErrors != 0 {
		a.ClientErrors = d.uvarint("client errors")
	}
	if flags&partServerErrors != 0 {
		a.ServerErrors = d.uvarint("server errors")
	}
	if flags&partValues != 0 {
		a.Values = d.uvarint("values")
		a.Sum, a.Min, a.Max = d.float("sum"), d.float("min"), d.float("max")
	}
	if d.err != nil {
		return d.err
	}
	if flags&partSketch != 0 {
		if a.Sketch = d.sketch(flags&partOneValue != 0, d.r.sketches[i]); a.Sketch == nil {
			return d.err
		}
		d.r.sketches[i] = a.Sketch
		if s := a.Sketch; flags&partFromSketch != 0 {
			if s.Count() == 0 {
				d.fail("values from an empty sketch")
			}
			a.Values, a.Sum, a.Min, a.Max = s.Count(), s.Sum(), s.Min(), s.Max()
		}
	}
	p.Agg = a
	return d.err
}

// sketch decodes what appendSketch wrote, or with one, the schema and the value
// of a sketch of one value, into s (nil: a new sketch), and returns it; nil on
// error.
func (d *decoder) sketch(one bool, s *sketch.Sketch) *sketch.Sketch {
	schema := int8(d.byte("sketch schema"))
	if d.err == nil && (schema < minSketchSchema || schema > maxSketchSchema) {
		d.fail("sketch schema %d", schema)
	}
	if one {
		v := d.float("sketch value")
		if d.err != nil {
			return nil
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			d.fail("sketch value %v", v)
			return nil
		}
		if s != nil {
			s.Reset() // back to the schema it was created or decoded with
		}
		if s == nil || s.Schema() != int32(schema) {
			s = sketch.New(int32(schema))
		}
		s.Add(v)
		return s
	}
	// Rebuild the sketch's own encoding (see sketch.Sketch.AppendBinary), bounded
	// in size by the input: an empty run of any length is two uvarints.
	std := append(d.r.std[:0], sketchVersion, byte(schema))
	defer func() { d.r.std = std[:0] }()
	zero := d.uvarint("sketch zero count")
	std = binary.AppendUvarint(std, zero)
	total, c1 := zero, uint64(0)
	for range 2 {
		var n uint64
		if std, n = d.buckets(std); d.err != nil {
			return nil
		}
		total, c1 = bits.Add64(total, n, c1)
	}
	if c1 != 0 {
		d.fail("sketch count overflows")
		return nil
	}
	if total > 0 {
		if len(d.b) < 24 {
			d.fail("truncated sketch sum, min, max")
			return nil
		}
		std, d.b = append(std, d.b[:24]...), d.b[24:]
	}
	if s == nil {
		s = &sketch.Sketch{}
	}
	if err := s.UnmarshalBinary(std); err != nil {
		d.fail("%v", err)
		return nil
	}
	return s
}

// item is a bucket as appendSketch writes it: the gap from the one before, and
// its count.
type item struct {
	gap, count uint64
}

// maxGap bounds a gap between buckets: the sketch spans at most 4096 buckets, and
// UnmarshalBinary rejects more; this only keeps the indexes in range.
const maxGap = 1 << 20

// buckets decodes a bucket set of appendSketch, appends it to std in the
// sketch's own encoding, and returns the sum of its counts (ok if it overflows:
// the sketch's decoder rejects it).
func (d *decoder) buckets(std []byte) ([]byte, uint64) {
	n := d.uvarint("bucket count")
	if n == 0 || d.err != nil {
		return append(std, 0), 0
	}
	if n > uint64(len(d.b)) {
		d.fail("%d buckets in %d bytes", n, len(d.b))
		return std, 0
	}
	first := d.varint("first bucket")
	if d.err == nil && (first < math.MinInt32 || first > math.MaxInt32) {
		d.fail("bucket index %d", first)
	}
	items := d.r.items[:0]
	defer func() { d.r.items = items[:0] }()
	last, total := first, uint64(0)
	for i := range n {
		x := d.uvarint("bucket")
		it := item{gap: x >> 1, count: 1}
		if x&1 == 0 {
			it.count = d.uvarint("bucket count")
		}
		if d.err != nil {
			return std, 0
		}
		if it.gap > maxGap || it.count == 0 {
			d.fail("bucket gap %d, count %d", it.gap, it.count)
			return std, 0
		}
		if i == 0 {
			first += int64(it.gap)
			last = first
		} else {
			last += int64(it.gap) + 1
		}
		if last > math.MaxInt32 {
			d.fail("bucket index %d", last)
			return std, 0
		}
		total += it.count
		items = append(items, it)
	}
	std = binary.AppendUvarint(std, uint64(last-first+1))
	std = binary.AppendVarint(std, first)
	for i, it := range items {
		if i > 0 && it.gap > 0 {
			std = append(std, 0)
			std = binary.AppendUvarint(std, it.gap-1)
		}
		std = binary.AppendUvarint(std, it.count)
	}
	return std, total
}
