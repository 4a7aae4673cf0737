package event

import "fmt"

// Class is the error class of an event's status.
type Class uint8

const (
	OK          Class = iota // no status field, or a status in no error range
	ClientError              // status in Schema.ClientErrors (4xx by default)
	ServerError              // status in Schema.ServerErrors (5xx by default)
)

func (c Class) String() string {
	switch c {
	case OK:
		return "ok"
	case ClientError:
		return "client_error"
	case ServerError:
		return "server_error"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// Event is one decoded event.
type Event struct {
	Time     int64   // unix ms, bounded: the payload's timestamp, else the record time (DecodeRecord)
	Value    float64 // scaled (seconds for latencies); valid only if HasValue
	HasValue bool
	Status   int
	Class    Class
	// Dims holds one value per Schema.Dimensions, in that order: a string's content
	// (escapes decoded), or a number's or boolean's literal text (status 200 is "200").
	// The slice is reused from the Event passed to Decode; the values are views into
	// the payload or the Decoder, valid until the next Decode on the same Decoder and
	// not to be modified.
	Dims [][]byte
}
