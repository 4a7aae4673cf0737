// Package window assigns event times to windows and decides when a window closes,
// with Kafka Streams semantics.
//
// Times are unix milliseconds. Every window is the half-open interval [Start, End).
// Stream time is the largest event time a task has seen; a window closes when stream
// time reaches its close time (End + Grace, plus the gap for sessions), after which a
// record for it is late. Closing never depends on the wall clock: a runtime that wants
// idle partitions to make progress advances stream time itself.
package window

import (
	"fmt"
	"time"
)

// Window is the interval [Start, End) in unix milliseconds.
type Window struct {
	Start, End int64
}

func (w Window) String() string { return fmt.Sprintf("[%d,%d)", w.Start, w.End) }

// Contains reports whether t falls in the window.
func (w Window) Contains(t int64) bool { return w.Start <= t && t < w.End }

// Kind is the kind of window.
type Kind uint8

const (
	// Tumbling windows are fixed-size, non-overlapping and aligned to the epoch.
	Tumbling Kind = iota + 1
	// Hopping windows are fixed-size and advance by a fixed step; they overlap when the
	// step is smaller than the size, so a record belongs to about Size/Advance windows.
	Hopping
	// Sliding windows (Kafka Streams' SlidingWindows) are fixed-size windows that exist
	// for every distinct set of records within Size of each other; see Sliding.
	Sliding
	// Session windows grow with activity and end after Gap without records; see Sessions.
	Session
)

var kindNames = map[Kind]string{Tumbling: "tumbling", Hopping: "hopping", Sliding: "sliding", Session: "session"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for k, name := range kindNames {
		if name == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown window type %q (want tumbling, hopping, sliding or session)", s)
}

// Spec describes the windows of one aggregation. All durations are milliseconds.
type Spec struct {
	Kind    Kind
	Size    int64 // tumbling, hopping, sliding: window length
	Advance int64 // hopping: step between window starts
	Gap     int64 // session: inactivity gap that ends a session
	// Grace is how long after its end a window still accepts out-of-order records.
	Grace int64
	// Retention is how long a window is kept in the store after its start.
	Retention int64
}

// SpecError is what Validate returns: the field at fault (size, advance, gap, grace,
// retention or type) and what is wrong with it.
type SpecError struct {
	Field string
	Msg   string
}

func (e *SpecError) Error() string { return "invalid window: " + e.Field + ": " + e.Msg }

// Validate reports the first inconsistency of s.
func (s Spec) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &SpecError{field, fmt.Sprintf(format, args...)}
	}
	switch s.Kind {
	case Tumbling, Sliding:
		if s.Size <= 0 {
			return bad("size", "must be > 0, got %v", ms(s.Size))
		}
	case Hopping:
		if s.Size <= 0 {
			return bad("size", "must be > 0, got %v", ms(s.Size))
		}
		if s.Advance <= 0 || s.Advance > s.Size {
			return bad("advance", "must be > 0 and <= size (%v), got %v", ms(s.Size), ms(s.Advance))
		}
	case Session:
		if s.Gap <= 0 {
			return bad("gap", "must be > 0, got %v", ms(s.Gap))
		}
	default:
		return bad("type", "unknown kind %d", s.Kind)
	}
	if s.Grace < 0 {
		return bad("grace", "must be >= 0, got %v", ms(s.Grace))
	}
	if min := s.span() + s.Grace; s.Retention < min {
		return bad("retention", "must be >= window size + grace (%v), got %v", ms(min), ms(s.Retention))
	}
	return nil
}

// span is the length of the longest window, or the gap of a session.
func (s Spec) span() int64 {
	if s.Kind == Session {
		return s.Gap
	}
	return s.Size
}

// CloseTime is the stream time at which w closes: from then on it takes no records
// and its result is final.
//
// Sliding and session windows end at an inclusive time in Kafka Streams (the last
// record's time); here End is that time plus one millisecond, so their close time
// subtracts it back to match Kafka Streams to the millisecond.
func (s Spec) CloseTime(w Window) int64 {
	switch s.Kind {
	case Session:
		return w.End - 1 + s.Gap + s.Grace
	case Sliding:
		return w.End - 1 + s.Grace
	}
	return w.End + s.Grace
}

// Closed reports whether w is closed at the given stream time.
func (s Spec) Closed(w Window, streamTime int64) bool { return streamTime >= s.CloseTime(w) }

// EvictTime is the stream time from which a closed window is no longer needed in
// memory. A new sliding window copies the aggregate of a window that may have closed
// up to 2*Size before it (see Windows.Add), so sliding windows stay that much longer.
func (s Spec) EvictTime(w Window) int64 {
	if s.Kind == Sliding {
		return s.CloseTime(w) + 2*s.Size + 1
	}
	return s.CloseTime(w)
}

// Expired reports whether a window that started at start is past retention.
func (s Spec) Expired(start, streamTime int64) bool { return start < streamTime-s.Retention }

// Assign appends to dst the windows of a time-based spec (tumbling or hopping) that
// contain t, oldest first. Sliding and session windows depend on the other records of
// the key and are assigned by Sliding and Sessions instead.
func (s Spec) Assign(dst []Window, t int64) []Window {
	switch s.Kind {
	case Tumbling:
		start := floorDiv(t, s.Size) * s.Size
		return append(dst, Window{start, start + s.Size})
	case Hopping:
		last := floorDiv(t, s.Advance) * s.Advance
		first := last
		for first-s.Advance > t-s.Size {
			first -= s.Advance
		}
		for start := first; start <= last; start += s.Advance {
			dst = append(dst, Window{start, start + s.Size})
		}
		return dst
	}
	return dst
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// floorDiv is a / b rounded towards negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}
