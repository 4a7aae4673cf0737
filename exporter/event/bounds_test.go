package event

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

// encodeTime writes the event time ms (unix ms) as a JSON value in unit u: exact
// decimals for the epoch units, RFC 3339 text for rfc3339, nanoseconds for auto (the
// unit auto picks for every time after 1973).
func encodeTime(ms int64, u Unit) string {
	n := big.NewInt(ms)
	switch u {
	case TimeSeconds:
		return big.NewRat(ms, 1000).FloatString(3)
	case TimeMillis:
		return n.String()
	case TimeMicros:
		return n.Mul(n, big.NewInt(1e3)).String()
	case TimeNanos, TimeAuto:
		return n.Mul(n, big.NewInt(1e6)).String()
	}
	return `"` + time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
}

// TestTimeBounds checks that every event time, from the payload in every unit (as a
// number and as a numeric string) or from the Kafka record time, is accepted exactly
// when it is within [min time, now + max future skew].
func TestTimeBounds(t *testing.T) {
	const now = 1795341600000 // 2026-11-22T10:00:00Z
	bounds := []struct {
		name          string
		minTime, skew int64 // as configured
		lo, hi        int64 // the accepted range they mean
	}{
		{name: "defaults (max future skew 0 is one hour, not off)", lo: 946684800000, hi: now + 3600*1000},
		{name: "configured", minTime: 1700000000000, skew: 1000, lo: 1700000000000, hi: now + 1000},
	}
	for _, b := range bounds {
		times := []struct {
			name string
			ms   int64
		}{
			{"0", 0}, {"-1 ms", -1}, {"negative", -1732230000123},
			{"MinInt64", math.MinInt64}, {"MinInt64+1", math.MinInt64 + 1},
			{"MaxInt64", math.MaxInt64}, {"MaxInt64-1", math.MaxInt64 - 1},
			{"year 2300", 10413792000000},
			{"1 ms before the min time", b.lo - 1}, {"the min time", b.lo},
			{"now", now},
			{"the max future skew", b.hi}, {"1 ms past the max future skew", b.hi + 1},
		}
		accepted := func(ms int64) bool { return b.lo <= ms && ms <= b.hi }
		type source struct {
			name, field string
			schema      Schema
			payload     func(ms int64) string
			recordTime  func(ms int64) int64
		}
		var sources []source
		for _, u := range []Unit{TimeSeconds, TimeMillis, TimeMicros, TimeNanos, TimeRFC3339, TimeAuto} {
			s := Schema{Timestamp: Path{"ts"}, TimestampUnit: u, MinTime: b.minTime, MaxFutureSkew: b.skew}
			sources = append(sources, source{"payload " + u.String(), "ts", s,
				func(ms int64) string { return `{"ts":` + encodeTime(ms, u) + `}` }, func(int64) int64 { return now }})
			if u != TimeRFC3339 {
				sources = append(sources, source{"payload " + u.String() + " string", "ts", s,
					func(ms int64) string { return `{"ts":"` + encodeTime(ms, u) + `"}` }, func(int64) int64 { return now }})
			}
		}
		withField := Schema{Timestamp: Path{"ts"}, MinTime: b.minTime, MaxFutureSkew: b.skew}
		noField := Schema{MinTime: b.minTime, MaxFutureSkew: b.skew}
		recordTime := func(ms int64) int64 { return ms }
		sources = append(sources,
			source{"record time, field absent", "", withField, func(int64) string { return `{"x":1}` }, recordTime},
			source{"record time, field null", "", withField, func(int64) string { return `{"ts":null}` }, recordTime},
			source{"record time, no timestamp configured", "", noField, func(int64) string { return `{"ts":1}` }, recordTime},
		)
		for _, src := range sources {
			d := mustDecoder(t, src.schema)
			d.SetNow(now)
			for _, tm := range times {
				t.Run(b.name+"/"+src.name+"/"+tm.name, func(t *testing.T) {
					in := src.payload(tm.ms)
					var ev Event
					err := d.DecodeRecord([]byte(in), src.recordTime(tm.ms), &ev)
					if accepted(tm.ms) {
						if err != nil || ev.Time != tm.ms {
							t.Fatalf("%s: got time %d, error %v; want %d", in, ev.Time, err, tm.ms)
						}
						return
					}
					var e *Error
					if !errors.As(err, &e) || e.Reason != BadTimestamp || e.Field != src.field {
						t.Fatalf("%s: got %v (time %d), want bad_timestamp of field %q", in, err, ev.Time, src.field)
					}
					if src.field == "" && !strings.Contains(err.Error(), "record time") {
						t.Errorf("%v does not say the record time is at fault", err)
					}
				})
			}
		}
	}
}

func TestTimeBoundMessages(t *testing.T) {
	const now = 1795341600000
	d := mustDecoder(t, Schema{Timestamp: Path{"ts"}, TimestampUnit: TimeMillis})
	d.SetNow(now)
	tests := []struct {
		in         string
		recordTime int64
		want       string
	}{
		{`{"ts":0}`, now, `event: field "ts": bad_timestamp: 0 ms is before the minimum time 2000-01-01T00:00:00Z`},
		{`{"ts":-5}`, now, `event: field "ts": bad_timestamp: -5 ms is before the minimum time 2000-01-01T00:00:00Z`},
		{`{"ts":10413792000000}`, now, `event: field "ts": bad_timestamp: 2300-01-01T00:00:00Z is 2394014h0m0s ahead of now (2026-11-22T10:00:00Z), more than the allowed 1h0m0s`},
		{`{"ts":9223372036854775807}`, now, `event: field "ts": bad_timestamp: 9223372036854775807 ms is 9223370241513175807 ms ahead of now (2026-11-22T10:00:00Z), more than the allowed 1h0m0s`},
		{`{"ts":-9223372036854775809}`, now, `event: field "ts": bad_timestamp: -9223372036854775809 ms is out of range`},
		{`{}`, -1, `event: bad_timestamp: record time -1 ms (the payload has no timestamp) is before the minimum time 2000-01-01T00:00:00Z`},
		{`{}`, now + 3600*1000 + 1, `event: bad_timestamp: record time 2026-11-22T11:00:00.001Z (the payload has no timestamp) is 1h0m0.001s ahead of now (2026-11-22T10:00:00Z), more than the allowed 1h0m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := d.DecodeRecord([]byte(tt.in), tt.recordTime, &Event{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestClock checks where now comes from: the injected clock, read for every event,
// until SetNow pins it; never "no check".
func TestClock(t *testing.T) {
	const t0 = 1795341600000
	s := Schema{Timestamp: Path{"ts"}, MaxFutureSkew: 1000}
	at := func(ms int64) []byte { return []byte(`{"ts":` + strconv.FormatInt(ms, 10) + `}`) }
	ok := func(d *Decoder, in []byte) bool { return d.DecodeRecord(in, t0, &Event{}) == nil }

	// A new decoder reads time.Now.
	d := mustDecoder(t, s)
	wall := time.Now().UnixMilli()
	if ok(d, at(wall+time.Hour.Milliseconds())) || ok(d, at(math.MaxInt64)) {
		t.Error("without SetNow, a time an hour ahead of the wall clock was accepted")
	}
	if !ok(d, at(wall-time.Minute.Milliseconds())) {
		t.Error("without SetNow, a time a minute ago was refused")
	}

	clock := time.UnixMilli(t0)
	d.SetClock(func() time.Time { return clock })
	if !ok(d, at(t0+1000)) || ok(d, at(t0+1001)) {
		t.Error("the injected clock is not the now of the skew check")
	}
	clock = clock.Add(time.Millisecond)
	if !ok(d, at(t0+1001)) {
		t.Error("the clock is not read again for the next event")
	}
	d.SetNow(t0)
	clock = clock.Add(time.Hour)
	if ok(d, at(t0+1001)) {
		t.Error("after SetNow the clock is still read")
	}
	d.SetClock(nil)
	if ok(d, at(time.Now().UnixMilli()+time.Hour.Milliseconds())) {
		t.Error("SetClock(nil) does not go back to time.Now")
	}
}
