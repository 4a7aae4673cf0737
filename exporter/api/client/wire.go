package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Timestamp is a point in time in unix milliseconds. On the wire it is unix
// seconds with up to three decimals, a JSON number (1795341600.25), which is what
// the API's time parameters take and Prometheus' API writes: a time read from an
// answer can be sent back as is. Encoding and decoding are exact to the
// millisecond (no float rounding).
type Timestamp int64

// TimestampOf returns t truncated to the millisecond.
func TimestampOf(t time.Time) Timestamp { return Timestamp(t.UnixMilli()) }

// Time returns the timestamp as a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.UnixMilli(int64(t)).UTC() }

// String is the wire form: unix seconds, with decimals only when needed.
func (t Timestamp) String() string { return string(t.append(nil)) }

func (t Timestamp) append(b []byte) []byte {
	u := uint64(t)
	if t < 0 {
		b = append(b, '-')
		u = -u // also right for math.MinInt64
	}
	b = strconv.AppendUint(b, u/1000, 10)
	if f := u % 1000; f != 0 {
		d := []byte{'.', byte('0' + f/100), byte('0' + f/10%10), byte('0' + f%10)}
		b = append(b, strings.TrimRight(string(d), "0")...)
	}
	return b
}

// MarshalJSON implements json.Marshaler.
func (t Timestamp) MarshalJSON() ([]byte, error) { return t.append(nil), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := ParseTimestamp(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ErrTimeRange is wrapped by ParseTimestamp's error for a number of seconds
// whose milliseconds do not fit an int64.
var ErrTimeRange = errors.New("time out of range")

// ParseTimestamp reads unix seconds written as a decimal number ("1795341600",
// "1795341600.125", "-1.5"), rounding to the nearest millisecond, half away from
// zero. Exponents ("1.7e9") are read through float64.
func ParseTimestamp(s string) (Timestamp, error) {
	bad := func() (Timestamp, error) {
		return 0, fmt.Errorf("%q is not a number of unix seconds", s)
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad()
		}
		ms := math.Round(f * 1000)
		if ms < math.MinInt64 || ms >= math.MaxInt64 {
			return 0, fmt.Errorf("%q: %w", s, ErrTimeRange)
		}
		return Timestamp(ms), nil
	}
	digits, neg := strings.CutPrefix(s, "-")
	ip, fp, _ := strings.Cut(digits, ".")
	if ip == "" && fp == "" || !allDigits(ip) || !allDigits(fp) {
		return bad()
	}
	const maxMs = uint64(math.MaxInt64)
	var sec uint64
	for _, c := range ip {
		if sec > maxMs/1000 {
			return 0, fmt.Errorf("%q: %w", s, ErrTimeRange)
		}
		sec = sec*10 + uint64(c-'0')
	}
	if sec > maxMs/1000 {
		return 0, fmt.Errorf("%q: %w", s, ErrTimeRange)
	}
	ms := sec * 1000
	frac := fp + "000"
	for i, scale := 0, uint64(100); i < 3; i, scale = i+1, scale/10 {
		ms += uint64(frac[i]-'0') * scale
	}
	if len(fp) > 3 && fp[3] >= '5' {
		ms++
	}
	if ms > maxMs {
		return 0, fmt.Errorf("%q: %w", s, ErrTimeRange)
	}
	if neg {
		return Timestamp(-int64(ms)), nil
	}
	return Timestamp(ms), nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Duration is a duration on the wire as Prometheus writes it: "30s", "1m",
// "1h30m", "1d". Decoding also takes a JSON number of seconds.
type Duration time.Duration

func (d Duration) String() string {
	if d < 0 {
		return "-" + model.Duration(-d).String()
	}
	return model.Duration(d).String()
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, d.String()), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		ms, err := ParseTimestamp(string(b))
		if err != nil {
			return fmt.Errorf("duration: %w", err)
		}
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	abs, neg := strings.CutPrefix(s, "-")
	v, err := model.ParseDuration(abs)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	if neg {
		v = -v
	}
	*d = Duration(v)
	return nil
}

// Value is a measure's value. On the wire it is a JSON number; null for NaN (no
// value: a ratio or mean over no events, a quantile over no values, a measure
// the window cannot give) and "+Inf" or "-Inf" for infinities, which JSON
// numbers cannot hold.
type Value float64

// IsNaN reports whether v is no value.
func (v Value) IsNaN() bool { return math.IsNaN(float64(v)) }

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null", `"NaN"`:
		*v = Value(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*v = Value(math.Inf(1))
		return nil
	case `"-Inf"`:
		*v = Value(math.Inf(-1))
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("value: %s is not a number, null, \"+Inf\" or \"-Inf\"", b)
	}
	*v = Value(f)
	return nil
}
