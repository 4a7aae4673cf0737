package combine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
)

// The repartition topic's records, version 1.
//
// A delta's key names what it is for, and decides its partition (see Partition):
//
//	byte     'D'
//	uvarint  length of the aggregation name, then the name
//	rest     the encoded group key (store.AppendGroup)
//
// and its value:
//
//	byte     version (1)
//	varint   source: the stage-1 input partition that wrote it, or -1 for a delta
//	         combined from the tasks of several (see Combiner.ProcessAt)
//	uvarint  number of parts, then each part:
//	  byte     flags (bit 0: Late)
//	  varint   Start, From
//	  uvarint  length, then aggregate.Value{End, Last, Agg}.AppendBinary
//
// A watermark's key is 'W' and its source partition (4 bytes, big endian); its
// value is the version byte and its stream time (varint).
const (
	kindDelta     = 'D'
	kindWatermark = 'W'
	version       = 1
	flagLate      = 1
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

// partHeader bounds what a part's encoding adds to its aggregate.Value's: flags,
// Start, From and the length.
const partHeader = 1 + 3*binary.MaxVarintLen64

func appendPart(dst []byte, p *engine.Part) ([]byte, error) {
	if p.Agg == nil {
		return dst, errors.New("no aggregate")
	}
	flags := byte(0)
	if p.Late {
		flags |= flagLate
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, p.Start)
	dst = binary.AppendVarint(dst, p.From)
	at := len(dst)
	dst, err := aggregate.Value{End: p.End, Last: p.Last, Agg: p.Agg}.AppendBinary(dst)
	if err != nil {
		return dst, err
	}
	var n [binary.MaxVarintLen64]byte
	return slices.Insert(dst, at, n[:binary.PutUvarint(n[:], uint64(len(dst)-at))]...), nil
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
}

// DecodeRecord decodes a repartition record into r, overwriting every field; the
// parts and their aggregates are new, and alias neither key nor value. It never
// panics on bad input; its errors wrap ErrCorrupt. A non-late part is checked to
// be a non-empty interval holding Last, with From at or before its Start.
func DecodeRecord(key, value []byte, r *Record) error {
	*r = Record{}
	if len(key) == 0 {
		return fmt.Errorf("%w: empty key", ErrCorrupt)
	}
	if len(value) == 0 || value[0] != version {
		return fmt.Errorf("%w: value does not start with version %d", ErrCorrupt, version)
	}
	d := decoder{b: value[1:]}
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
	name := key[1+l : 1+l+int(n)]
	r.AggName, r.Delta.Group = string(name), string(key[1+l+int(n):])
	src := d.varint("source")
	if src < math.MinInt32 || src > math.MaxInt32 {
		d.fail("source %d out of the int32 range", src)
	}
	r.Source = int32(src)
	count := d.uvarint("part count")
	if d.err == nil && count > uint64(len(d.b)/4) { // a part takes more than 4 bytes
		d.fail("%d parts in %d bytes", count, len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	r.Delta.Parts = make([]engine.Part, count)
	for i := range r.Delta.Parts {
		if err := d.part(&r.Delta.Parts[i]); err != nil {
			return fmt.Errorf("%w (part %d)", err, i)
		}
	}
	return d.end()
}

type decoder struct {
	b   []byte
	err error
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

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

func (d *decoder) part(p *engine.Part) error {
	if len(d.b) == 0 {
		d.fail("truncated part")
		return d.err
	}
	flags := d.b[0]
	d.b = d.b[1:]
	if flags&^flagLate != 0 {
		d.fail("part flags 0x%02x", flags)
	}
	p.Late = flags&flagLate != 0
	p.Start, p.From = d.varint("start"), d.varint("from")
	n := d.uvarint("part length")
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("part of %d bytes, %d left", n, len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	var v aggregate.Value
	if err := v.UnmarshalBinary(d.b[:n]); err != nil {
		d.fail("%v", err)
		return d.err
	}
	d.b = d.b[n:]
	p.End, p.Last, p.Agg = v.End, v.Last, v.Agg
	if !p.Late && (p.Start >= p.End || p.Last < p.Start || p.Last >= p.End || p.From > p.Start) {
		d.fail("part [%d,%d) with last %d and from %d", p.Start, p.End, p.Last, p.From)
	}
	return d.err
}
