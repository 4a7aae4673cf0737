package event

import "fmt"

// Decoder decodes events of one Schema. It is not safe for concurrent use: give each
// partition task its own.
type Decoder struct {
	minTime, skew, now int64
	maxSize            int
	unit               Unit
	scale              float64
	shift              int // scale is 10^-shift, or -1
	valueRequired      bool
	allowNegative      bool
	clientErrors       []Range
	serverErrors       []Range

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
		maxSize:       s.MaxSize,
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

// SetNow sets the decoder's idea of the current time (unix ms) for the
// Schema.MaxFutureSkew check; the runtime calls it once per fetched batch. Until it is
// called with a value > 0 there is no future check.
func (d *Decoder) SetNow(unixMillis int64) { d.now = unixMillis }

// Decode decodes one payload into ev. On error, which is always an *Error, ev is
// unspecified. data must not change until the next Decode (ev.Dims may point into it).
//
// A key that occurs twice in an object counts once, with its last value, as in
// encoding/json and JavaScript's JSON.parse.
func (d *Decoder) Decode(data []byte, ev *Event) error {
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
	if d.ts.leaf >= 0 {
		if err := d.decodeTime(data, ev); err != nil {
			return err
		}
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
