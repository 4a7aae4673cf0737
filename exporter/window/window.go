// Package window assigns event times to windows and decides when a window closes,
// with Kafka Streams semantics.
//
// Times are unix milliseconds. Every window is the half-open interval [Start, End).
// Stream time is the largest event time a task has seen; a window closes when stream
// time reaches its close time (End + Grace, plus the gap for sessions), after which a
// record for it is late. Closing never depends on the wall clock: a runtime that wants
// idle partitions to make progress advances stream time itself.
//
// No input makes the arithmetic wrap around: every window lies within the int64 range
// (a window that would reach past it, for a time within one window size of
// math.MinInt64 or math.MaxInt64, does not exist, and a record is late for it), and
// close, evict and expiry times saturate at the ends of the range.
package window

import (
	"fmt"
	"math"
	"time"

	"github.com/kwindow/kwindow/exporter/internal/satint"
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
	if min := satint.Add(s.span(), s.Grace); s.Retention < min {
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
// and its result is final. Past math.MaxInt64 it is math.MaxInt64: a stream time that
// reaches the end of the range closes everything.
//
// Sliding and session windows end at an inclusive time in Kafka Streams (the last
// record's time); here End is that time plus one millisecond, so their close time
// subtracts it back to match Kafka Streams to the millisecond.
func (s Spec) CloseTime(w Window) int64 {
	switch s.Kind {
	case Session:
		return satint.Add(satint.Add(satint.Sub(w.End, 1), s.Gap), s.Grace)
	case Sliding:
		return satint.Add(satint.Sub(w.End, 1), s.Grace)
	}
	return satint.Add(w.End, s.Grace)
}

// Closed reports whether w is closed at the given stream time.
func (s Spec) Closed(w Window, streamTime int64) bool { return streamTime >= s.CloseTime(w) }

// EvictTime is the stream time from which a closed window is no longer needed in
// memory (saturated like CloseTime). A new sliding window copies the aggregate of a
// window that may have closed up to 2*Size before it (see Windows.Add), so sliding
// windows stay that much longer.
func (s Spec) EvictTime(w Window) int64 {
	if s.Kind == Sliding {
		return satint.Add(satint.Add(satint.Add(s.CloseTime(w), s.Size), s.Size), 1)
	}
	return s.CloseTime(w)
}

// Expired reports whether a window that started at start is past retention, that is
// start < streamTime - Retention, exactly, for any stream time (NoTime included).
func (s Spec) Expired(start, streamTime int64) bool {
	return start < satint.Sub(streamTime, s.Retention)
}

// Assign appends to dst the windows of a time-based spec (tumbling or hopping) that
// contain t, oldest first: at most ceil(Size/Advance) of them, fewer near the ends of
// the int64 range, where windows that would not fit are left out. Sliding and session
// windows depend on the other records of the key and are assigned by Windows.Add
// instead; an invalid spec (see Validate) has no windows.
func (s Spec) Assign(dst []Window, t int64) []Window {
	dst, _ = s.assign(dst, t)
	return dst
}

// assign is Assign; complete is false when a window of t was left out because it
// does not fit in the int64 range.
func (s Spec) assign(dst []Window, t int64) (_ []Window, complete bool) {
	size, adv := s.Size, s.Advance
	switch s.Kind {
	case Tumbling:
		adv = size
	case Hopping:
	default:
		return dst, true
	}
	if size <= 0 || adv <= 0 || adv > size {
		return dst, true
	}
	// The windows of t start at t-r, t-r-adv, t-r-2*adv... while the start is above
	// t-size, where r = t mod adv (floored): n = ceil((size-r)/adv) windows. Their
	// offsets from t lie within (-size, size], so only the bounds themselves can leave
	// the int64 range, and the count does not depend on t's magnitude.
	r := t % adv
	if r < 0 {
		r += adv
	}
	n := int64(1)
	if adv < size {
		n = (size-r-1)/adv + 1
	}
	complete = true
	for j := n - 1; j >= 0; j-- {
		back := r + j*adv    // t - start, in [0, size)
		ahead := size - back // end - t, in (0, size]
		if t < math.MinInt64+back || t > math.MaxInt64-ahead {
			complete = false
			continue
		}
		dst = append(dst, Window{t - back, t + ahead})
	}
	return dst, complete
}

// ms writes n milliseconds as a duration ("1m0s"), or as "<n>ms" beyond what a
// time.Duration holds (292 years).
func ms(n int64) string {
	if n > math.MaxInt64/int64(time.Millisecond) || n < math.MinInt64/int64(time.Millisecond) {
		return fmt.Sprintf("%dms", n)
	}
	return (time.Duration(n) * time.Millisecond).String()
}
