package query

import (
	"math"

	"github.com/kwindow/kwindow/exporter/window"
)

// How the windows of one key that start in one step are combined into a point.
//
//   - Tumbling and session windows of a key never overlap: a point merges every
//     window that starts in its step.
//   - Hopping windows overlap. A step up to the advance holds at most one window
//     per key, taken as is. A longer step must be a multiple of the size, and a
//     point merges the windows that start at multiples of the size: they tile
//     the step, so no event counts twice.
//   - Sliding windows overlap arbitrarily: a point takes, per key, the latest
//     window that starts in its step.
type selectMode uint8

const (
	selectAll    selectMode = iota // merge every window
	selectTile                     // merge the windows starting at multiples of tile
	selectLatest                   // the latest window per key
)

// stepper places windows in the steps of [from, to).
type stepper struct {
	from, to, step int64
	n              int64 // steps: ceil((to-from)/step)
	mode           selectMode
	tile           int64 // selectTile: the size; tumbling: the size, for spans
	spec           window.Spec
	closeOffset    int64 // close time - start of the longest window: see finalAt
}

// newStepper checks the time range and step of a query over spec; step 0 is
// the window's own step. maxPoints bounds the steps. Scans read starts below
// to <= math.MaxInt64 = engine.TotalStart, so never a running total.
func newStepper(spec window.Spec, from, to, step int64, maxPoints int) (*stepper, error) {
	if from >= to {
		return nil, badQuery("to", "must be after from (%d), got %d", from, to)
	}
	if step < 0 {
		return nil, badQuery("step", "must be >= 0 (0: the window's step), got %dms", step)
	}
	s := &stepper{from: from, to: to, spec: spec}
	span := spec.Size
	switch spec.Kind {
	case window.Tumbling:
		s.tile = spec.Size
	case window.Hopping:
		if step == 0 {
			step = spec.Advance
		}
		if step > spec.Advance {
			if step%spec.Size != 0 {
				return nil, badQuery("step", "hopping windows of %dms overlap: a step above the advance (%dms) must be a multiple of the size, got %dms", spec.Size, spec.Advance, step)
			}
			s.mode, s.tile = selectTile, spec.Size
		}
	case window.Sliding:
		s.mode = selectLatest
		span = spec.Size + 1
	case window.Session:
		span = 1
		if step == 0 {
			step = spec.Gap
		}
	}
	if step == 0 {
		step = spec.Size
	}
	s.step = step
	diff := uint64(to) - uint64(from)
	n := diff / uint64(step)
	if diff%uint64(step) != 0 {
		n++
	}
	if n > uint64(maxPoints) {
		return nil, &LimitError{Limit: limitPoints, Max: maxPoints, Need: int(min(n, math.MaxInt32))}
	}
	s.n = int64(n)
	s.closeOffset = spec.CloseTime(window.Window{Start: 0, End: span})
	return s, nil
}

// index returns the step holding a window that starts at start, or -1.
func (s *stepper) index(start int64) int64 {
	if start < s.from || start >= s.to {
		return -1
	}
	return int64((uint64(start) - uint64(s.from)) / uint64(s.step))
}

// bounds returns the interval [start, end) of step i.
func (s *stepper) bounds(i int64) (start, end int64) {
	start = s.from + i*s.step
	if uint64(s.to)-uint64(start) <= uint64(s.step) {
		return start, s.to
	}
	return start, start + s.step
}

// selected reports whether a window starting at start enters a point at all.
func (s *stepper) selected(start int64) bool {
	return s.mode != selectTile || floorMod(start, s.tile) == 0
}

// span is the time in milliseconds that the windows of a point in [start, end)
// cover, what Rate divides by.
func (s *stepper) span(start, end int64) int64 {
	switch {
	case s.spec.Kind == window.Session:
		return end - start
	case s.mode == selectTile || s.spec.Kind == window.Tumbling:
		return multiples(start, end, s.tile) * s.tile
	}
	return s.spec.Size // one hopping or sliding window
}

// finalAt returns the stream time from which no window starting in [start,
// end) can change: the close time of the last window that can start there (a
// later event for it would be late). Sessions can start anywhere, and a new one
// only holds events within grace of stream time.
func (s *stepper) finalAt(start, end int64) int64 {
	last := end - 1
	switch {
	case s.mode == selectTile || s.spec.Kind == window.Tumbling:
		last = floorDiv(last, s.tile) * s.tile
	case s.spec.Kind == window.Hopping:
		last = floorDiv(last, s.spec.Advance) * s.spec.Advance
	}
	return satAdd(last, s.closeOffset)
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// multiples counts the multiples of m > 0 in [a, b), a < b.
func multiples(a, b, m int64) int64 {
	first := floorDiv(a, m)
	if floorMod(a, m) != 0 {
		first++
	}
	return floorDiv(b-1, m) - first + 1
}

func floorDiv(a, m int64) int64 {
	q := a / m
	if a%m != 0 && (a < 0) != (m < 0) {
		q--
	}
	return q
}

func floorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}
