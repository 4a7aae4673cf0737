package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds a slow reference decoder written plainly with encoding/json,
// math/big and time.Parse, and checks that the Decoder agrees with it.

type refResult struct {
	time     int64
	value    float64
	hasValue bool
	status   int
	class    Class
	dims     []string
}

var numberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// refDecode decodes data, a record of Kafka time recordTime, as the Decoder documents
// it, with the decoder's now set to now. For strings holding invalid UTF-8 it differs
// (encoding/json replaces those bytes, the Decoder refuses such dimensions), so
// callers compare only valid UTF-8 payloads.
func refDecode(s Schema, now, recordTime int64, data []byte) (res refResult, reason Reason, ok bool) {
	minTime, skew, maxDim := s.MinTime, s.MaxFutureSkew, s.MaxDimensionLength
	if minTime == 0 {
		minTime = 946684800000 // 2000-01-01
	}
	if skew == 0 {
		skew = 3600 * 1000
	}
	if maxDim == 0 {
		maxDim = 1024
	}
	// inBounds works in math/big: now + skew may be past the int64 range.
	inBounds := func(ms int64) bool {
		hi := new(big.Int).Add(big.NewInt(now), big.NewInt(skew))
		return ms >= minTime && big.NewInt(ms).Cmp(hi) <= 0
	}
	s = s.WithDefaults()
	fail := func(r Reason) (refResult, Reason, bool) { return refResult{}, r, false }
	if len(data) > s.MaxSize {
		return fail(TooLarge)
	}
	if !json.Valid(data) {
		return fail(NotJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	root, isObj := v.(map[string]any)
	if !isObj {
		return fail(WrongType)
	}
	// lookup returns the value at p, whether it is there (not absent, not null), and
	// whether an enclosing field is not an object.
	lookup := func(p Path) (x any, present, badParent bool) {
		cur := root
		for i, k := range p {
			x, has := cur[k]
			if !has || x == nil {
				return nil, false, false
			}
			if i == len(p)-1 {
				return x, true, false
			}
			m, isMap := x.(map[string]any)
			if !isMap {
				return nil, false, true
			}
			cur = m
		}
		panic("empty path")
	}

	hasTime := false
	if s.Timestamp != nil {
		x, present, bad := lookup(s.Timestamp)
		if bad {
			return fail(WrongType)
		}
		if present {
			var ms int64
			var good bool
			switch x := x.(type) {
			case json.Number:
				if s.TimestampUnit == TimeRFC3339 {
					return fail(WrongType)
				}
				ms, good = refMillis(string(x), s.TimestampUnit)
			case string:
				if s.TimestampUnit != TimeRFC3339 && numberRE.MatchString(x) {
					ms, good = refMillis(x, s.TimestampUnit)
				} else {
					ms, good = refRFC3339(x)
				}
			default:
				return fail(WrongType)
			}
			if !good || !inBounds(ms) {
				return fail(BadTimestamp)
			}
			res.time, hasTime = ms, true
		}
	}
	if !hasTime {
		if !inBounds(recordTime) {
			return fail(BadTimestamp)
		}
		res.time = recordTime
	}

	if s.Value != nil {
		x, present, bad := lookup(s.Value)
		if bad {
			return fail(WrongType)
		}
		if present {
			var lit string
			switch x := x.(type) {
			case json.Number:
				lit = string(x)
			case string:
				if !numberRE.MatchString(x) {
					return fail(InvalidValue)
				}
				lit = x
			default:
				return fail(WrongType)
			}
			raw, _ := strconv.ParseFloat(lit, 64)
			if math.IsInf(raw, 0) {
				return fail(InvalidValue)
			}
			r, ok := new(big.Rat).SetString(lit)
			if !ok { // an exponent too large for big.Rat, and the value not Inf: it is ±0
				r = new(big.Rat)
			}
			scale := new(big.Rat).SetFloat64(s.ValueScale)
			for k := 0; k <= 22; k++ {
				if s.ValueScale == 1/math.Pow10(k) {
					scale = new(big.Rat).SetFrac64(1, int64(math.Pow10(k)))
					if k > 18 {
						scale = new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
					}
					break
				}
			}
			f, _ := r.Mul(r, scale).Float64()
			if math.IsInf(f, 0) || f < 0 && !s.AllowNegative {
				return fail(InvalidValue)
			}
			res.value, res.hasValue = f+0, true
		} else if s.ValueRequired {
			return fail(MissingField)
		}
	}

	if s.Status != nil {
		x, present, bad := lookup(s.Status)
		if bad {
			return fail(WrongType)
		}
		if !present {
			return fail(MissingField)
		}
		var lit string
		switch x := x.(type) {
		case json.Number:
			lit = string(x)
		case string:
			if !numberRE.MatchString(x) {
				return fail(InvalidValue)
			}
			lit = x
		default:
			return fail(WrongType)
		}
		f, _ := strconv.ParseFloat(lit, 64)
		if !(f >= 0 && f <= math.MaxInt32) || f != math.Trunc(f) {
			return fail(InvalidValue)
		}
		res.status = int(f)
		for _, r := range s.ClientErrors {
			if r.Lo <= res.status && res.status <= r.Hi {
				res.class = ClientError
			}
		}
		for _, r := range s.ServerErrors {
			if r.Lo <= res.status && res.status <= r.Hi {
				res.class = ServerError
			}
		}
	}

	for _, dim := range s.Dimensions {
		x, present, bad := lookup(dim.Path)
		if bad {
			return fail(WrongType)
		}
		if !present {
			if !dim.Optional {
				return fail(MissingField)
			}
			res.dims = append(res.dims, dim.Default)
			continue
		}
		var v string
		switch x := x.(type) {
		case string:
			v = x
		case json.Number:
			v = string(x)
		case bool:
			v = strconv.FormatBool(x)
		default:
			return fail(WrongType)
		}
		if len(v) > maxDim {
			return fail(DimensionTooLong)
		}
		res.dims = append(res.dims, v)
	}
	return res, 0, true
}

var (
	rfc3339RE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$`)
	badOffset = regexp.MustCompile(`[+-](2[4-9]|[3-9][0-9]):[0-9][0-9]$|:[6-9][0-9]$`)
)

// refRFC3339 is time.Parse(time.RFC3339Nano), case-insensitive as RFC 3339 wants,
// without the leniencies of time.Parse (one-digit hours, ',' fractions, offset hour
// 24, minute 60).
func refRFC3339(s string) (int64, bool) {
	if !rfc3339RE.MatchString(s) || badOffset.MatchString(s) {
		return 0, false
	}
	if len(s) > 10 && (s[10] == 't' || s[10] == ' ') {
		s = s[:10] + "T" + s[11:]
	}
	if strings.HasSuffix(s, "z") {
		s = s[:len(s)-1] + "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// compareWithRef fails t if d, whose now is now, disagrees with refDecode about data.
func compareWithRef(t *testing.T, s Schema, d *Decoder, now, recordTime int64, data []byte) {
	t.Helper()
	var ev Event
	err := d.DecodeRecord(data, recordTime, &ev)
	want, wantReason, wantOK := refDecode(s, now, recordTime, data)
	if !wantOK {
		e, isE := err.(*Error)
		if !isE || e.Reason != wantReason {
			t.Fatalf("%s\ngot %v (event %+v), reference says %v", data, err, ev, wantReason)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s\ngot %v, reference accepts it: %+v", data, err, want)
	}
	got := refResult{time: ev.Time, value: ev.Value, hasValue: ev.HasValue, status: ev.Status, class: ev.Class}
	for _, d := range ev.Dims {
		got.dims = append(got.dims, string(d))
	}
	if !got.hasValue {
		got.value = 0
	}
	if got.time != want.time || got.hasValue != want.hasValue || !closeFloat(got.value, want.value) ||
		got.status != want.status || got.class != want.class || fmt.Sprintf("%q", got.dims) != fmt.Sprintf("%q", want.dims) {
		t.Fatalf("%s\ngot       %+v\nreference %+v", data, got, want)
	}
}

// closeFloat allows the one rounding that strconv-then-divide may add to an exact
// result (the fast path is exact; exponent forms and long mantissas are not).
func closeFloat(a, b float64) bool {
	if a == b {
		return true
	}
	if math.Abs(b) < 1e-290 {
		return math.Abs(a-b) < 1e-300
	}
	return math.Abs(a-b) <= 2*math.Abs(b)*0x1p-52
}

func TestDifferential(t *testing.T) {
	auto := RequestLogSchema()
	auto.TimestampUnit = TimeAuto
	auto.MaxFutureSkew = math.MaxInt64 // every auto-unit year up to 5138: now + skew saturates
	tests := []struct {
		name   string
		schema Schema
		next   func(g *gen) []byte
	}{
		{"request log", RequestLogSchema(), (*gen).requestLog},
		{"request log, auto time unit", auto, (*gen).requestLog},
		{"metric point", genericSchema(), (*gen).metricPoint},
	}
	const now = 1732230000000 + 5e9
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gen{rng: rand.New(rand.NewPCG(7, 8))}
			d := mustDecoder(t, tt.schema)
			d.SetNow(now)
			accepted := 0
			const n = 20000
			for i := 0; i < n; i++ {
				data := tt.next(g)
				recordTime := g.recordTime()
				compareWithRef(t, tt.schema, d, now, recordTime, data)
				if d.DecodeRecord(data, recordTime, &Event{}) == nil {
					accepted++
				}
			}
			t.Logf("%d of %d events valid", accepted, n)
			// The generator is meant to make valid events and invalid ones.
			if accepted < n/10 || accepted == n {
				t.Errorf("%d of %d events valid: the generator needs tuning", accepted, n)
			}
		})
	}
}

// The loadgen events, the benchmark's input, agree with the reference too.
func TestDifferentialLoadgen(t *testing.T) {
	d := mustDecoder(t, RequestLogSchema())
	d.SetNow(benchStart + 1e6)
	for _, data := range loadgenEvents(2000) {
		compareWithRef(t, RequestLogSchema(), d, benchStart+1e6, benchStart, data)
	}
}
