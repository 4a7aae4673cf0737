package event

import (
	"math"
	"unicode/utf8"
)

// After the scan, each configured field's token is turned into its part of the Event.

// target is one configured field: its leaf token and the objects enclosing it.
type target struct {
	leaf  int // -1: not configured
	field string
	anc   []ancestor // outermost first
}

type ancestor struct {
	obj   int
	field string
}

type dimTarget struct {
	target
	optional bool
	def      []byte
}

// span is where in buf the unescaped value of dimension dim is.
type span struct {
	dim, start, end int
}

// absent returns the error for a target whose value is absent or null: wrong_type if
// an enclosing field is not an object, otherwise nil (absent it is).
func (d *Decoder) absent(t *target) error {
	for _, a := range t.anc {
		switch k := d.objs[a.obj]; k {
		case kObject:
		case kAbsent, kNull:
			return nil
		default:
			return errorf(WrongType, a.field, "got %s, want object", k)
		}
	}
	return nil
}

// text is the content of a string token, unescaped into d.buf if need be.
func (d *Decoder) text(data []byte, t *token) []byte {
	raw := data[t.start:t.end]
	if !t.esc {
		return raw
	}
	st := len(d.buf)
	d.buf = appendUnescaped(d.buf, raw)
	return d.buf[st:]
}

// decodeTime sets ev.Time from the timestamp field, bounded (checkTime); it
// reports whether the field was there.
func (d *Decoder) decodeTime(data []byte, ev *Event) (bool, error) {
	t := &d.toks[d.ts.leaf]
	var (
		ms int64
		ok bool
	)
	switch t.kind {
	case kAbsent, kNull:
		return false, d.absent(&d.ts)
	case kNumber:
		if d.unit == TimeRFC3339 {
			return true, errorf(WrongType, d.ts.field, "got number, want RFC 3339 string")
		}
		lit := data[t.start:t.end]
		if t.isInt {
			ms, ok = intMillis(t.int, d.unit)
		} else {
			ms, ok = epochMillis(lit, d.unit)
		}
		if !ok {
			return true, errorf(BadTimestamp, d.ts.field, "%s %s is out of range", excerpt(lit), d.unit)
		}
	case kString:
		s := d.text(data, t)
		if d.unit != TimeRFC3339 && isNumber(s) {
			if ms, ok = epochMillis(s, d.unit); !ok {
				return true, errorf(BadTimestamp, d.ts.field, "%s %s is out of range", quote(s), d.unit)
			}
		} else if ms, ok = parseRFC3339(s); !ok {
			return true, errorf(BadTimestamp, d.ts.field, "cannot parse %s as RFC 3339", quote(s))
		}
	default:
		return true, errorf(WrongType, d.ts.field, "got %s, want number or string", t.kind)
	}
	if err := d.checkTime(ms, d.ts.field); err != nil {
		return true, err
	}
	ev.Time = ms
	return true, nil
}

func (d *Decoder) decodeValue(data []byte, ev *Event) error {
	t := &d.toks[d.val.leaf]
	var lit []byte
	switch t.kind {
	case kAbsent, kNull:
		if err := d.absent(&d.val); err != nil || !d.valueRequired {
			return err
		}
		return errorf(MissingField, d.val.field, "required value is missing")
	case kNumber:
		lit = data[t.start:t.end]
	case kString:
		if lit = d.text(data, t); !isNumber(lit) {
			return errorf(InvalidValue, d.val.field, "%s is not a number", quote(lit))
		}
	default:
		return errorf(WrongType, d.val.field, "got %s, want number", t.kind)
	}
	var f float64
	switch {
	case t.plain && t.digits <= 15 && int(t.frac)+max(d.shift, 0) < len(pow10):
		// parseFloat's fast path, on the digits the scan has read.
		if d.shift >= 0 {
			f = float64(t.int) / pow10[int(t.frac)+d.shift]
		} else {
			f = float64(t.int) / pow10[t.frac] * d.scale
		}
	case d.shift >= 0:
		f = parseFloat(lit, d.shift)
	default:
		f = parseFloat(lit, 0) * d.scale
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return errorf(InvalidValue, d.val.field, "%s is out of range", excerpt(lit))
	case f < 0 && !d.allowNegative:
		return errorf(InvalidValue, d.val.field, "negative value %s", excerpt(lit))
	case f == 0:
		f = 0 // no -0
	}
	ev.Value, ev.HasValue = f, true
	return nil
}

func (d *Decoder) decodeStatus(data []byte, ev *Event) error {
	t := &d.toks[d.stat.leaf]
	var lit []byte
	switch t.kind {
	case kAbsent, kNull:
		if err := d.absent(&d.stat); err != nil {
			return err
		}
		return errorf(MissingField, d.stat.field, "required status is missing")
	case kNumber:
		lit = data[t.start:t.end]
	case kString:
		lit = d.text(data, t)
		if !isNumber(lit) {
			return errorf(InvalidValue, d.stat.field, "status %s is not a number", quote(lit))
		}
	default:
		return errorf(WrongType, d.stat.field, "got %s, want number", t.kind)
	}
	st, ok := int(t.int), t.isInt && t.int <= maxStatus
	if !ok {
		st, ok = parseStatus(lit)
	}
	if !ok {
		return errorf(InvalidValue, d.stat.field, "status %s is not an integer in [0, %d]", excerpt(lit), maxStatus)
	}
	ev.Status, ev.Class = st, OK
	for _, r := range d.serverErrors {
		if r.contains(st) {
			ev.Class = ServerError
			return nil
		}
	}
	for _, r := range d.clientErrors {
		if r.contains(st) {
			ev.Class = ClientError
			return nil
		}
	}
	return nil
}

func (d *Decoder) decodeDims(data []byte, ev *Event) error {
	d.spans = d.spans[:0]
	maxDim := d.maxDim
	if cap(ev.Dims) < len(d.dims) {
		ev.Dims = make([][]byte, len(d.dims))
	}
	dims := ev.Dims[:len(d.dims)]
	ev.Dims = dims
	for i := range d.dims {
		dt := &d.dims[i]
		t := &d.toks[dt.leaf]
		switch t.kind {
		case kString:
			if t.esc {
				st := len(d.buf)
				d.buf = appendUnescaped(d.buf, data[t.start:t.end])
				d.spans = append(d.spans, span{dim: i, start: st, end: len(d.buf)})
				if len(d.buf)-st > maxDim {
					return d.dimTooLong(dt, d.buf[st:])
				}
				if t.high && !utf8.Valid(d.buf[st:]) {
					return errorf(InvalidValue, dt.field, "string is not valid UTF-8")
				}
				dims[i] = nil // set below: d.buf may move while it grows
				continue
			}
			if t.end-t.start > maxDim {
				return d.dimTooLong(dt, data[t.start:t.end])
			}
			if t.high && !utf8.Valid(data[t.start:t.end]) {
				return errorf(InvalidValue, dt.field, "string is not valid UTF-8")
			}
			dims[i] = data[t.start:t.end:t.end]
		case kNumber, kTrue, kFalse:
			if t.end-t.start > maxDim {
				return d.dimTooLong(dt, data[t.start:t.end])
			}
			dims[i] = data[t.start:t.end:t.end]
		case kAbsent, kNull:
			if err := d.absent(&dt.target); err != nil {
				return err
			}
			if !dt.optional {
				return errorf(MissingField, dt.field, "required dimension is missing")
			}
			dims[i] = dt.def
		default:
			return errorf(WrongType, dt.field, "got %s, want string, number or boolean", t.kind)
		}
	}
	for _, sp := range d.spans {
		dims[sp.dim] = d.buf[sp.start:sp.end:sp.end]
	}
	return nil
}

// dimTooLong is the error of a dimension value over Schema.MaxDimensionLength: every
// key, window result and changelog record carrying it would be as large, and could
// outgrow what the broker accepts.
func (d *Decoder) dimTooLong(dt *dimTarget, v []byte) error {
	return errorf(DimensionTooLong, dt.field, "value of %d bytes, more than the maximum %d: %s", len(v), d.maxDim, quote(v))
}
