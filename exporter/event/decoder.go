package event

import (
	"fmt"
	"time"

	"github.com/kwindow/kwindow/exporter/internal/satint"
)

// Decoder decodes events of one Schema. It is not safe for concurrent use: give each
// partition task its own.
type Decoder struct {
	minTime, skew int64
	now, maxTime  int64            // set by SetNow: maxTime = now + skew, saturated
	clock         func() time.Time // nil after SetNow
	maxSize       int
	maxDim        int
	unit          Unit
	scale         float64
	shift         int // scale is 10^-shift, or -1
	valueRequired bool
	allowNegative bool
	clientErrors  []Range
	serverErrors  []Range

	root          node
	toks          []token // one per configured leaf path
	objs          []kind  // one per object node on a configured path
	ts, val, stat target
	dims          []dimTarget
	spans         []span
	buf, keyBuf   []byte // unescaped strings of the current event
	synOff        int
	synMsg        string
}

// NewDecoder validates s, applies its defaults and compiles it.
func NewDecoder(s Schema) (*Decoder, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("event schema: %w", err)
	}
	s = s.WithDefaults()
	d := &Decoder{
		minTime:       s.MinTime,
		skew:          s.MaxFutureSkew,
		clock:         time.Now,
		maxSize:       s.MaxSize,
		maxDim:        s.MaxDimensionLength,
		unit:          s.TimestampUnit,
		scale:         s.ValueScale,
		shift:         -1,
		valueRequired: s.ValueRequired,
		allowNegative: s.AllowNegative,
		clientErrors:  append([]Range(nil), s.ClientErrors...),
		serverErrors:  append([]Range(nil), s.ServerErrors...),
	}
	for k := range pow10 {
		if s.ValueScale == 1/pow10[k] {
			d.shift = k
			break
		}
	}
	tree := &pathTree{}
	for _, p := range append([]Path{s.Timestamp, s.Value, s.Status}, dimPaths(s.Dimensions)...) {
		tree.insert(p)
	}
	idx := pathIndex{leaf: map[string]int{}, obj: map[string]int{}}
	d.root = d.compile(tree, nil, idx)
	d.ts, d.val, d.stat = idx.target(s.Timestamp), idx.target(s.Value), idx.target(s.Status)
	for _, dim := range s.Dimensions {
		def := []byte(dim.Default)
		d.dims = append(d.dims, dimTarget{target: idx.target(dim.Path), optional: dim.Optional, def: def[:len(def):len(def)]})
	}
	d.spans = make([]span, 0, len(d.dims))
	return d, nil
}

func dimPaths(dims []Dimension) []Path {
	ps := make([]Path, len(dims))
	for i, d := range dims {
		ps[i] = d.Path
	}
	return ps
}

// SetNow fixes the decoder's idea of the current time (unix ms) for the
// Schema.MaxFutureSkew check until the next SetNow or SetClock; the runtime calls it
// once per fetched batch. Until then, the decoder reads its clock for every event.
func (d *Decoder) SetNow(unixMillis int64) {
	d.now, d.maxTime, d.clock = unixMillis, satint.Add(unixMillis, d.skew), nil
}

// SetClock makes the decoder read the current time from now for every event, as it
// does until SetNow is called (time.Now by default, or when now is nil).
func (d *Decoder) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	d.clock = now
}

// DecodeRecord decodes one Kafka record value into ev. On error, which is always an
// *Error, ev is unspecified. data must not change until the next decode (ev.Dims may
// point into it).
//
// The event time is the payload's timestamp field or, when the schema has none or
// the payload leaves it out (absent or JSON null), recordTime, the record's Kafka
// timestamp (unix ms). Either way it must be within [Schema.MinTime,
// now + Schema.MaxFutureSkew], or the event fails with bad_timestamp; a timestamp
// field of 0 or less is a bad timestamp too, never "absent".
//
// A key that occurs twice in an object counts once, with its last value, as in
// encoding/json and JavaScript's JSON.parse.
func (d *Decoder) DecodeRecord(data []byte, recordTime int64, ev *Event) error {
	return d.decode(data, recordTime, true, ev)
}

// Decode is DecodeRecord for a payload without a record time: an event without a
// timestamp decodes with Time 0.
//
// Deprecated: use DecodeRecord, which also bounds the fallback time; Time 0 makes
// the caller substitute an unchecked one.
func (d *Decoder) Decode(data []byte, ev *Event) error {
	return d.decode(data, 0, false, ev)
}

func (d *Decoder) decode(data []byte, recordTime int64, hasRecord bool, ev *Event) error {
	if len(data) > d.maxSize {
		return errorf(TooLarge, "", "payload of %d bytes, max %d", len(data), d.maxSize)
	}
	clear(d.toks)
	clear(d.objs)
	d.buf = d.buf[:0]
	if err := d.scanTop(data); err != nil {
		return err
	}
	ev.Time, ev.Value, ev.HasValue, ev.Status, ev.Class = 0, 0, false, 0, OK
	hasTime := false
	if d.ts.leaf >= 0 {
		var err error
		if hasTime, err = d.decodeTime(data, ev); err != nil {
			return err
		}
	}
	if !hasTime && hasRecord {
		if err := d.checkTime(recordTime, ""); err != nil {
			return err
		}
		ev.Time = recordTime
	}
	if d.val.leaf >= 0 {
		if err := d.decodeValue(data, ev); err != nil {
			return err
		}
	}
	if d.stat.leaf >= 0 {
		if err := d.decodeStatus(data, ev); err != nil {
			return err
		}
	}
	return d.decodeDims(data, ev)
}

func (d *Decoder) scanTop(data []byte) error {
	i := skipWS(data, 0)
	if i >= len(data) {
		return errorf(NotJSON, "", "empty payload")
	}
	var j int
	if data[i] == '{' {
		j = d.scanObject(data, i, &d.root, 1)
	} else {
		j = d.skipValue(data, i, 0)
	}
	if j >= 0 {
		if j = skipWS(data, j); j < len(data) {
			j = d.fail(data, j, "after top-level value")
		}
	}
	if j < 0 {
		return errorf(NotJSON, "", "%s at offset %d", d.synMsg, d.synOff)
	}
	if data[i] != '{' {
		return errorf(WrongType, "", "payload is a JSON %s, want an object", kindAt(data, i))
	}
	return nil
}
