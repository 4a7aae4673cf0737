package event

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzDecode decodes arbitrary bytes with three schemas. The seed corpus is in
// testdata/fuzz/FuzzDecode. Invariants: no panic; the error is an *Error; not_json
// exactly when encoding/json finds the payload invalid; an accepted event has a finite,
// non-negative value, the right number of valid UTF-8 dimensions and a sane time; and
// for valid UTF-8 the result is the reference decoder's.
func FuzzDecode(f *testing.F) {
	for _, e := range loadgenEvents(4) {
		f.Add(e)
	}
	auto := RequestLogSchema()
	auto.TimestampUnit = TimeAuto
	schemas := []Schema{RequestLogSchema(), auto, genericSchema()}
	const now = 1795341600000
	var decoders []*Decoder
	for _, s := range schemas {
		d := mustDecoder(f, s)
		d.SetNow(now)
		decoders = append(decoders, d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		valid := json.Valid(data)
		for i, d := range decoders {
			s := schemas[i].WithDefaults()
			var ev Event
			err := d.Decode(data, &ev)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("schema %d: error %v is not an *Error", i, err)
				}
				if (e.Reason == NotJSON) == valid {
					t.Fatalf("schema %d: %v, but json.Valid says %v", i, err, valid)
				}
			} else {
				if !valid {
					t.Fatalf("schema %d: accepted invalid JSON", i)
				}
				if ev.HasValue && (math.IsNaN(ev.Value) || math.IsInf(ev.Value, 0) || ev.Value < 0 || math.Signbit(ev.Value)) {
					t.Fatalf("schema %d: accepted value %v", i, ev.Value)
				}
				if len(ev.Dims) != len(s.Dimensions) {
					t.Fatalf("schema %d: %d dims, want %d", i, len(ev.Dims), len(s.Dimensions))
				}
				for _, dim := range ev.Dims {
					if !utf8.Valid(dim) {
						t.Fatalf("schema %d: dimension %q is not UTF-8", i, dim)
					}
				}
				if ev.Time != 0 && (ev.Time < s.MinTime || ev.Time > now+s.MaxFutureSkew && s.MaxFutureSkew > 0) {
					t.Fatalf("schema %d: accepted time %d", i, ev.Time)
				}
			}
			if utf8.Valid(data) {
				compareWithRef(t, schemas[i], d, now, data)
			}
		}
	})
}
