package event

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"testing"
	"unicode/utf8"
)

// FuzzDecode decodes arbitrary bytes, with an arbitrary Kafka record time, with four
// schemas. The seed corpus is in testdata/fuzz/FuzzDecode. Invariants: no panic; the
// error is an *Error whose message is valid UTF-8 and short; not_json exactly when
// encoding/json finds the payload invalid; an accepted event has a finite,
// non-negative value, the right number of valid UTF-8 dimensions none longer than
// the schema allows, and a time within the bounds whatever its source; and for valid
// UTF-8 the result is the reference decoder's.
func FuzzDecode(f *testing.F) {
	for _, e := range loadgenEvents(4) {
		f.Add(e, int64(benchStart))
	}
	auto := RequestLogSchema()
	auto.TimestampUnit = TimeAuto
	untimed := Schema{ // record time only, and a small dimension bound
		Value:              Path{"v"},
		Dimensions:         []Dimension{{Name: "name", Path: Path{"name"}}, {Name: "host", Path: Path{"host"}, Optional: true, Default: "12345678"}},
		MaxDimensionLength: 8,
	}
	schemas := []Schema{RequestLogSchema(), auto, genericSchema(), untimed}
	const now = 1795341600000
	var decoders []*Decoder
	for _, s := range schemas {
		d := mustDecoder(f, s)
		d.SetNow(now)
		decoders = append(decoders, d)
	}
	f.Fuzz(func(t *testing.T, data []byte, recordTime int64) {
		valid := json.Valid(data)
		for i, d := range decoders {
			s := schemas[i].WithDefaults()
			var ev Event
			err := d.DecodeRecord(data, recordTime, &ev)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("schema %d: error %v is not an *Error", i, err)
				}
				if (e.Reason == NotJSON) == valid {
					t.Fatalf("schema %d: %v, but json.Valid says %v", i, err, valid)
				}
				if msg := err.Error(); !utf8.ValidString(msg) || len(msg) > 1024 {
					t.Fatalf("schema %d: error message of %d bytes, valid UTF-8 %v: %q", i, len(msg), utf8.ValidString(msg), msg)
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
					if !utf8.Valid(dim) || len(dim) > s.MaxDimensionLength {
						t.Fatalf("schema %d: dimension %q (%d bytes) is not UTF-8 or too long", i, dim, len(dim))
					}
				}
				maxTime := new(big.Int).Add(big.NewInt(now), big.NewInt(s.MaxFutureSkew))
				if ev.Time < s.MinTime || big.NewInt(ev.Time).Cmp(maxTime) > 0 {
					t.Fatalf("schema %d: accepted time %d (record time %d)", i, ev.Time, recordTime)
				}
			}
			if utf8.Valid(data) {
				compareWithRef(t, schemas[i], d, now, recordTime, data)
			}
		}
	})
}
