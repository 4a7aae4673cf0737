package event

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Unit says how a numeric timestamp (a JSON number or a numeric string) is read.
// Non-numeric strings are always parsed as RFC 3339, whatever the unit.
type Unit int

const (
	// TimeAuto guesses the unit of an epoch number by its magnitude |v|:
	//
	//	|v| < 1e11          seconds       (1e11 s  is the year 5138)
	//	1e11 <= |v| < 1e14  milliseconds  (1e11 ms is 1973-03-03)
	//	1e14 <= |v| < 1e17  microseconds  (1e14 µs is 1973-03-03)
	//	|v| >= 1e17         nanoseconds   (1e17 ns is 1973-03-03)
	//
	// so every instant between 1973-03-03 and 5138 is read right in any of the four
	// units. Strings are RFC 3339 or numeric strings read the same way.
	TimeAuto Unit = iota
	TimeSeconds
	TimeMillis
	TimeMicros
	TimeNanos
	// TimeRFC3339 accepts only RFC 3339 strings ("2006-01-02T15:04:05.999999999Z07:00");
	// a number is a wrong_type error.
	TimeRFC3339
)

var unitNames = [...]string{"auto", "s", "ms", "us", "ns", "rfc3339"}

func (u Unit) String() string {
	if u < 0 || int(u) >= len(unitNames) {
		return fmt.Sprintf("Unit(%d)", int(u))
	}
	return unitNames[u]
}

// ParseUnit is the inverse of Unit.String, for configuration files:
// "auto", "s", "ms", "us", "ns" or "rfc3339".
func ParseUnit(s string) (Unit, error) {
	for i, n := range unitNames {
		if s == n {
			return Unit(i), nil
		}
	}
	return 0, fmt.Errorf("unknown time unit %q (want one of %s)", s, strings.Join(unitNames[:], ", "))
}

// Path is a JSON object path: ["labels", "region"] is the field region of the object
// field labels. Arrays are not addressable.
type Path []string

func (p Path) String() string { return strings.Join(p, ".") }

// Dimension is one group-by field of an event.
type Dimension struct {
	Name string
	Path Path
	// Optional dimensions that are absent (or JSON null) take Default; a required one
	// that is absent fails the event with missing_field.
	Optional bool
	Default  string
}

// Range is an inclusive range of status codes.
type Range struct{ Lo, Hi int }

func (r Range) contains(v int) bool { return r.Lo <= v && v <= r.Hi }

// Defaults applied by NewDecoder (and WithDefaults) to zero fields of a Schema.
const (
	DefaultMaxSize            = 1 << 20      // bytes
	DefaultMinTime            = 946684800000 // 2000-01-01T00:00:00Z in unix ms
	DefaultMaxFutureSkew      = 3600 * 1000  // ms: one hour
	DefaultMaxDimensionLength = 1024         // bytes
)

const (
	maxNesting = 10000         // nested arrays and objects, as in encoding/json
	maxStatus  = math.MaxInt32 // largest accepted status code
)

// Schema says where the engine's inputs are in an event. The config package compiles the
// YAML into it; NewDecoder validates it.
//
// A JSON null counts as absent for every field.
type Schema struct {
	// Timestamp is the event-time field; nil means the payload has none. An event
	// without the field (or with null) takes the Kafka record time given to
	// DecodeRecord, within the same bounds (MinTime, MaxFutureSkew).
	Timestamp     Path
	TimestampUnit Unit

	// Value is the measured value (a latency); nil means none. A number or a numeric
	// string, multiplied by ValueScale (0 means 1; 0.001 turns ms into seconds).
	// Negative values are rejected unless AllowNegative (a gauge such as a
	// temperature; never for latencies). NaN and ±Inf are always rejected.
	Value         Path
	ValueScale    float64
	ValueRequired bool
	AllowNegative bool

	// Status is the status code field (a number or a numeric string holding an
	// integer >= 0); nil means no error classification. Required when set.
	// ClientErrors and ServerErrors classify it; empty means 400-499 and 500-599.
	Status       Path
	ClientErrors []Range
	ServerErrors []Range

	// Dimensions are any fields, reported in this order in Event.Dims. A dimension may
	// be the status field too.
	Dimensions []Dimension

	// MaxFutureSkew (ms): an event time more than this after the decoder's now
	// (SetNow, else its clock) is absurd; 0 means DefaultMaxFutureSkew. There is no
	// way to turn the check off: an unbounded time would close every open window.
	MaxFutureSkew int64
	// MinTime (unix ms): an earlier event time is absurd; 0 means DefaultMinTime. It
	// is > 0 once defaulted, so a time of 0 or less is always refused.
	MinTime int64
	// MaxSize (bytes): a larger payload fails with too_large; 0 means DefaultMaxSize.
	MaxSize int
	// MaxDimensionLength (bytes): a dimension value longer than this fails the
	// event (it would make every key, result and changelog record that carries it
	// outgrow what was read); 0 means DefaultMaxDimensionLength.
	MaxDimensionLength int
}

// RequestLogSchema is the schema of the default request-log event:
//
//	{"timestamp": 1732230000123, "endpoint": "/api/users", "method": "GET",
//	 "status": 200, "region": "us-east-1", "latency_ms": 12.5}
//
// with the latency exported in seconds and dimensions endpoint, method, status, region.
func RequestLogSchema() Schema {
	return Schema{
		Timestamp:     Path{"timestamp"},
		TimestampUnit: TimeMillis,
		Value:         Path{"latency_ms"},
		ValueScale:    0.001,
		ValueRequired: true,
		Status:        Path{"status"},
		ClientErrors:  []Range{{400, 499}},
		ServerErrors:  []Range{{500, 599}},
		Dimensions: []Dimension{
			{Name: "endpoint", Path: Path{"endpoint"}},
			{Name: "method", Path: Path{"method"}},
			{Name: "status", Path: Path{"status"}},
			{Name: "region", Path: Path{"region"}},
		},
		MaxFutureSkew: 24 * 3600 * 1000,
		MinTime:       DefaultMinTime,
		MaxSize:       DefaultMaxSize,
	}
}

// WithDefaults returns s with the documented defaults in place of zero fields.
func (s Schema) WithDefaults() Schema {
	if s.ValueScale == 0 {
		s.ValueScale = 1
	}
	if len(s.ClientErrors) == 0 {
		s.ClientErrors = []Range{{400, 499}}
	}
	if len(s.ServerErrors) == 0 {
		s.ServerErrors = []Range{{500, 599}}
	}
	if s.MinTime == 0 {
		s.MinTime = DefaultMinTime
	}
	if s.MaxFutureSkew == 0 {
		s.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if s.MaxSize == 0 {
		s.MaxSize = DefaultMaxSize
	}
	if s.MaxDimensionLength == 0 {
		s.MaxDimensionLength = DefaultMaxDimensionLength
	}
	return s
}

// Validate reports the first problem of s, naming the field. Zero fields that have
// defaults are fine.
func (s Schema) Validate() error {
	type named struct {
		name string
		path Path
	}
	var paths []named
	add := func(name string, p Path) error {
		if p == nil {
			return nil
		}
		if err := checkPath(p); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		paths = append(paths, named{name, p})
		return nil
	}
	if err := add("timestamp", s.Timestamp); err != nil {
		return err
	}
	if s.TimestampUnit < TimeAuto || s.TimestampUnit > TimeRFC3339 {
		return fmt.Errorf("timestamp_unit: unknown unit %d", int(s.TimestampUnit))
	}
	if err := add("value", s.Value); err != nil {
		return err
	}
	if s.ValueRequired && s.Value == nil {
		return fmt.Errorf("value_required: set without a value path")
	}
	if math.IsNaN(s.ValueScale) || math.IsInf(s.ValueScale, 0) || s.ValueScale < 0 {
		return fmt.Errorf("value_scale: must be a finite number > 0, got %v", s.ValueScale)
	}
	if err := add("status", s.Status); err != nil {
		return err
	}
	for _, rs := range []struct {
		name   string
		ranges []Range
	}{{"client_errors", s.ClientErrors}, {"server_errors", s.ServerErrors}} {
		for i, r := range rs.ranges {
			if r.Lo < 0 || r.Lo > r.Hi {
				return fmt.Errorf("%s[%d]: want 0 <= lo <= hi, got %d-%d", rs.name, i, r.Lo, r.Hi)
			}
		}
	}
	for i, c := range s.ClientErrors {
		for j, e := range s.ServerErrors {
			if c.Lo <= e.Hi && e.Lo <= c.Hi {
				return fmt.Errorf("client_errors[%d] (%d-%d) overlaps server_errors[%d] (%d-%d)", i, c.Lo, c.Hi, j, e.Lo, e.Hi)
			}
		}
	}
	seen := make(map[string]bool, len(s.Dimensions))
	for i, d := range s.Dimensions {
		name := fmt.Sprintf("dimensions[%d]", i)
		if d.Name == "" {
			return fmt.Errorf("%s.name: empty", name)
		}
		if seen[d.Name] {
			return fmt.Errorf("%s.name: duplicate dimension %q", name, d.Name)
		}
		seen[d.Name] = true
		if d.Path == nil {
			return fmt.Errorf("%s.path: empty", name)
		}
		if err := add(name+".path", d.Path); err != nil {
			return err
		}
		if !d.Optional && d.Default != "" {
			return fmt.Errorf("%s.default: set on a required dimension (make it optional)", name)
		}
		if !utf8.ValidString(d.Default) {
			return fmt.Errorf("%s.default: not valid UTF-8", name)
		}
	}
	// A field cannot be both a value and an object holding another configured field.
	for _, a := range paths {
		for _, b := range paths {
			if len(a.path) < len(b.path) && equalPath(a.path, b.path[:len(a.path)]) {
				return fmt.Errorf("%s: %q is an object holding %s %q, it cannot be a value too", a.name, a.path, b.name, b.path)
			}
		}
	}
	if s.MaxFutureSkew < 0 {
		return fmt.Errorf("max_future_skew: must be >= 0, got %d", s.MaxFutureSkew)
	}
	if s.MinTime < 0 {
		return fmt.Errorf("min_time: must be >= 0, got %d", s.MinTime)
	}
	if s.MaxSize < 0 {
		return fmt.Errorf("max_size: must be >= 0, got %d", s.MaxSize)
	}
	if s.MaxDimensionLength < 0 {
		return fmt.Errorf("max_dimension_length: must be >= 0, got %d", s.MaxDimensionLength)
	}
	maxDim := s.WithDefaults().MaxDimensionLength
	for i, d := range s.Dimensions {
		if len(d.Default) > maxDim {
			return fmt.Errorf("dimensions[%d].default: %d bytes, more than max_dimension_length (%d)", i, len(d.Default), maxDim)
		}
	}
	return nil
}

func checkPath(p Path) error {
	if len(p) == 0 {
		return fmt.Errorf("empty path")
	}
	for i, k := range p {
		if k == "" {
			return fmt.Errorf("path %q: element %d is empty", p, i)
		}
	}
	return nil
}

func equalPath(a, b Path) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
