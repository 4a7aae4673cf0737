package event

import "fmt"

// Reason classifies an invalid event. Its String is a stable, low-cardinality metric
// label value (kwindow_invalid_records_total{reason="bad_timestamp"}).
type Reason uint8

const (
	NotJSON          Reason = iota // not one well-formed JSON value
	MissingField                   // a required field is absent or null
	WrongType                      // a field (or the top level) has the wrong JSON type
	InvalidValue                   // right type, unusable value: negative latency, status 2.5, bad UTF-8
	BadTimestamp                   // unparseable or absurd event time
	TooLarge                       // payload over Schema.MaxSize
	DimensionTooLong               // a dimension value over Schema.MaxDimensionLength
	numReasons
)

var reasonNames = [numReasons]string{"not_json", "missing_field", "wrong_type", "invalid_value", "bad_timestamp", "too_large", "dimension_too_long"}

func (r Reason) String() string {
	if r >= numReasons {
		return fmt.Sprintf("Reason(%d)", uint8(r))
	}
	return reasonNames[r]
}

// Reasons lists every Reason, so a metrics collector can export all label values
// (zeros included) and index counters by Reason.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Error is the error of every rejected event; get it with errors.As.
//
// Its message ends up in a Kafka header and in JSON documents, so it is valid UTF-8
// whatever the payload holds, every value it quotes is a JSON string (RFC 8259
// escapes, never Go's \a or \x00), and no quoted value is longer than maxExcerpt bytes
// of the original.
type Error struct {
	Reason Reason
	Field  string // dotted path of the field at fault; empty for the payload as a whole
	Msg    string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "event: " + e.Reason.String() + ": " + e.Msg
	}
	return "event: field " + quoteString(e.Field) + ": " + e.Reason.String() + ": " + e.Msg
}

func errorf(r Reason, field string, format string, args ...any) *Error {
	return &Error{Reason: r, Field: field, Msg: fmt.Sprintf(format, args...)}
}
