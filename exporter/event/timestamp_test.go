package event

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDecodeTimestamps(t *testing.T) {
	const ms = 1732230000123 // 2024-11-21T23:00:00.123Z
	tests := []struct {
		unit Unit
		in   string // the JSON value of the timestamp field
		want int64  // -1: bad_timestamp, -2: wrong_type
	}{
		{TimeMillis, `1732230000123`, ms},
		{TimeMillis, `"1732230000123"`, ms},
		{TimeMillis, `1732230000123.9`, ms},
		{TimeMillis, `1.732230000123e12`, ms},
		{TimeMillis, `1732230000`, -1}, // seconds read as ms: 1970, absurd
		{TimeSeconds, `1732230000`, 1732230000000},
		{TimeSeconds, `1732230000.123`, ms},
		{TimeSeconds, `1732230000.1239`, ms},
		{TimeSeconds, `"1732230000.123"`, ms},
		{TimeSeconds, `17322300001234567`, -1}, // overflows int64 ms
		{TimeMicros, `1732230000123456`, ms},
		{TimeMicros, `1732230000123999.9`, ms},
		{TimeNanos, `1732230000123456789`, ms},
		{TimeNanos, `"1732230000123456789"`, ms},
		{TimeNanos, `1.732230000123456789e18`, ms},
		{TimeAuto, `1732230000`, 1732230000000},
		{TimeAuto, `1732230000.123`, ms},
		{TimeAuto, `99999999999`, 99999999999000}, // < 1e11: seconds (year 5138)
		{TimeAuto, `100000000000`, -1},            // >= 1e11: ms (1973)... before min time
		{TimeAuto, `1732230000123`, ms},
		{TimeAuto, `1732230000123456`, ms},
		{TimeAuto, `1732230000123456789`, ms},
		{TimeAuto, `"1732230000123"`, ms},
		{TimeAuto, `"2024-11-21T23:00:00.123Z"`, ms},
		{TimeAuto, `"2024-11-21T23:00:00.123456789Z"`, ms},
		{TimeAuto, `"2024-11-21T23:00:00.1Z"`, ms - 23},
		{TimeAuto, `"2024-11-21T23:00:00Z"`, ms - 123},
		{TimeAuto, `"2024-11-22T00:30:00.123+01:30"`, ms},
		{TimeAuto, `"2024-11-21T21:00:00.123-02:00"`, ms},
		{TimeAuto, `"2024-11-21t23:00:00.123z"`, ms},
		{TimeAuto, `"2024-11-21 23:00:00.123Z"`, ms},
		{TimeAuto, `"2024-11-21T23:00:00.123\u005a"`, ms},
		{TimeAuto, `"2024-02-29T00:00:00Z"`, 1709164800000},
		{TimeAuto, `"2023-02-29T00:00:00Z"`, -1},
		{TimeAuto, `"2024-11-21T24:00:00Z"`, -1},
		{TimeAuto, `"2024-11-21T23:00:60Z"`, -1},
		{TimeAuto, `"2024-11-21T23:00:00.Z"`, -1},
		{TimeAuto, `"2024-11-21T23:00:00+0100"`, -1},
		{TimeAuto, `"2024-11-21T23:00:00+24:00"`, -1},
		{TimeAuto, `"2024-11-21"`, -1},
		{TimeAuto, `" 1732230000123"`, -1},
		{TimeAuto, `""`, -1},
		{TimeRFC3339, `"2024-11-21T23:00:00.123Z"`, ms},
		{TimeRFC3339, `"1732230000123"`, -1},
		{TimeRFC3339, `1732230000123`, -2},
		{TimeMillis, `true`, -2},
		{TimeMillis, `[1732230000123]`, -2},
	}
	for _, tt := range tests {
		t.Run(tt.unit.String()+" "+tt.in, func(t *testing.T) {
			// This table is about units and syntax; TestTimeBounds tests the bounds.
			d := mustDecoder(t, Schema{Timestamp: Path{"ts"}, TimestampUnit: tt.unit, MaxFutureSkew: math.MaxInt64})
			var ev Event
			err := d.DecodeRecord([]byte(`{"ts":`+tt.in+`}`), recTime, &ev)
			var e *Error
			switch {
			case tt.want == -1:
				if !errors.As(err, &e) || e.Reason != BadTimestamp {
					t.Errorf("got %v (time %d), want bad_timestamp", err, ev.Time)
				}
			case tt.want == -2:
				if !errors.As(err, &e) || e.Reason != WrongType {
					t.Errorf("got %v (time %d), want wrong_type", err, ev.Time)
				}
			case err != nil:
				t.Errorf("got %v, want %d", err, tt.want)
			case ev.Time != tt.want:
				t.Errorf("got %d (%s), want %d (%s)", ev.Time, fmtMillis(ev.Time), tt.want, fmtMillis(tt.want))
			}
		})
	}
}

func TestFutureSkew(t *testing.T) {
	s := Schema{Timestamp: Path{"ts"}, MaxFutureSkew: 1000}
	d := mustDecoder(t, s)
	var ev Event
	in := []byte(`{"ts":1732230001123}`)
	d.SetNow(1732230000123)
	if err := d.DecodeRecord(in, recTime, &ev); err != nil {
		t.Fatalf("exactly the allowed skew: %v", err)
	}
	d.SetNow(1732230000122)
	if err := d.DecodeRecord(in, recTime, &ev); err == nil || err.Error() != `event: field "ts": bad_timestamp: 2024-11-21T23:00:01.123Z is 1.001s ahead of now (2024-11-21T23:00:00.122Z), more than the allowed 1s` {
		t.Fatalf("1 ms beyond the skew: got %v", err)
	}
}

// refMillis is epochMillis done with exact rationals.
func refMillis(lit string, u Unit) (int64, bool) {
	r, ok := new(big.Rat).SetString(lit)
	if !ok { // an exponent too large for big.Rat: the value is 0 or out of range
		mant, exp, _ := strings.Cut(strings.ToLower(lit), "e")
		if m, _ := new(big.Rat).SetString(mant); m.Sign() == 0 || strings.HasPrefix(exp, "-") {
			return 0, true
		}
		return 0, false
	}
	if u == TimeAuto {
		abs := new(big.Rat).Abs(r)
		switch {
		case abs.Cmp(big.NewRat(1e11, 1)) < 0:
			u = TimeSeconds
		case abs.Cmp(big.NewRat(1e14, 1)) < 0:
			u = TimeMillis
		case abs.Cmp(big.NewRat(1e17, 1)) < 0:
			u = TimeMicros
		default:
			u = TimeNanos
		}
	}
	mul := map[Unit]*big.Rat{TimeSeconds: big.NewRat(1000, 1), TimeMillis: big.NewRat(1, 1), TimeMicros: big.NewRat(1, 1000), TimeNanos: big.NewRat(1, 1e6)}[u]
	r.Mul(r, mul)
	q := new(big.Int).Quo(r.Num(), r.Denom()) // truncates toward zero
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

func TestEpochMillisExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forms := []func() string{
		func() string { return strconv.FormatUint(rng.Uint64N(1e19), 10) },
		func() string {
			return strconv.FormatInt(rng.Int64N(1e13), 10) + "." + strconv.FormatInt(rng.Int64N(1e9), 10)
		},
		func() string { return "-" + strconv.FormatInt(rng.Int64N(1e12), 10) },
		func() string {
			return strconv.FormatInt(rng.Int64N(10), 10) + "." + strconv.FormatInt(rng.Int64N(1e15), 10) + "e" + strconv.Itoa(rng.IntN(40)-10)
		},
		func() string {
			return "0.000" + strconv.FormatInt(rng.Int64N(1e6), 10) + "E+" + strconv.Itoa(rng.IntN(25))
		},
		func() string { return fmt.Sprintf("%d", rng.Int64N(1e6)*1e12+rng.Int64N(1000)) },
	}
	for i := 0; i < 200000; i++ {
		lit := forms[i%len(forms)]()
		u := Unit(rng.IntN(int(TimeNanos) + 1))
		got, gok := epochMillis([]byte(lit), u)
		want, wok := refMillis(lit, u)
		if gok != wok || gok && got != want {
			t.Fatalf("epochMillis(%s, %v) = %d %v, want %d %v", lit, u, got, gok, want, wok)
		}
	}
}

func TestRFC3339MatchesTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		tm := time.UnixMilli(rng.Int64N(4e12)).Add(time.Duration(rng.IntN(1e6)) * time.Nanosecond)
		var zone *time.Location = time.UTC
		if i%2 == 1 {
			zone = time.FixedZone("", (rng.IntN(2*1439+1)-1439)*60) // ±23:59; time.Parse also takes ±24:00, RFC 3339 does not
		}
		layout := []string{time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.0Z07:00"}[i%4]
		s := tm.In(zone).Format(layout)
		got, ok := parseRFC3339([]byte(s))
		ref, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil || got != ref.UnixMilli() {
			t.Fatalf("%s: got %d %v, time.Parse %d %v", s, got, ok, ref.UnixMilli(), err)
		}
	}
	// Strings time.Parse refuses are refused too.
	for _, s := range []string{
		"2024-11-21T23:00:00", "2024-11-21T23:00:00+01", "2024-1-21T23:00:00Z", "2024-11-21T23:0:00Z",
		"2024-11-31T23:00:00Z", "2024-00-21T23:00:00Z", "2024-11-00T23:00:00Z", "2024-11-21T23:00:00.Z",
		"2024-11-21T23:00:00Z ", "+2024-11-21T23:00:00Z", "2024-11-21T23:00:00ZZ",
	} {
		if _, ok := parseRFC3339([]byte(s)); ok {
			t.Errorf("%q accepted", s)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Errorf("%q: time.Parse accepts it (fix the test)", s)
		}
	}
}

// TestParseFloatRounding checks the claim of parseFloat's doc comment: the result is
// the float64 nearest to the decimal value divided by 10^shift.
func TestParseFloatRounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 200000; i++ {
		lit := strconv.FormatInt(rng.Int64N(1e9), 10)
		if i%3 != 0 {
			lit += "." + strconv.FormatInt(rng.Int64N(1e6), 10)
		}
		if i%7 == 0 {
			lit = "-" + lit
		}
		shift := []int{0, 3, 6}[i%3]
		got := parseFloat([]byte(lit), shift)
		r, _ := new(big.Rat).SetString(lit)
		r.Quo(r, new(big.Rat).SetFloat64(pow10[shift]))
		want, _ := r.Float64()
		if got != want {
			t.Fatalf("parseFloat(%s, %d) = %v, want %v", lit, shift, got, want)
		}
	}
}
