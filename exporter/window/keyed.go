package window

import (
	"math"
	"sort"

	"github.com/kwindow/kwindow/exporter/internal/satint"
)

// Aggregate is what the stateful window kinds need of a window's value: sessions
// merge, and sliding windows start from a copy of a neighbour.
type Aggregate[A any] interface {
	Merge(other A)
	Clone() A
}

// Slot is one window of one key and its aggregate.
type Slot[A any] struct {
	Window Window
	Agg    A
	Last   int64 // largest event time added
	Dirty  bool  // changed since the owner last flushed it
	// Closed is set by the owner once it has published the final result. Whether a
	// window takes records is decided by stream time (Spec.Closed), not by this flag.
	Closed bool
}

// Windows holds the windows of one key that are still in memory, sorted by start.
// Its zero value is ready to use. It is not safe for concurrent use: one task owns it.
type Windows[A Aggregate[A]] struct {
	Slots []Slot[A]
	// Removed lists windows merged away (sessions) since the owner last cleared it:
	// their stored copies must be deleted.
	Removed []Window
}

// Add applies a record at event time t, at the given stream time, to the windows of
// spec s: add puts the record into an aggregate, empty makes a new one. It reports
// whether the record was late, that is, dropped from at least one window because
// that window had closed, or because it would not fit in the int64 range (a time
// within a window size, or gap, of math.MinInt64 or math.MaxInt64).
//
// A sliding record is late, as in Kafka Streams, only once its right window
// [t+1, t+Size+1] is closed; one between Grace and Size+Grace behind stream time
// goes to the windows of it still open, and which those are depends on the order
// records arrive in (a new window copies a neighbour that may have closed without
// it). Stage 1 of the two-stage topology (package combine) counts such a record
// late instead.
func (ws *Windows[A]) Add(s *Spec, t, streamTime int64, add func(A), empty func() A) (late bool) {
	switch s.Kind {
	case Session:
		return ws.addSession(s, t, streamTime, add, empty)
	case Sliding:
		return ws.addSliding(s, t, streamTime, add, empty)
	}
	var buf [8]Window
	wins, complete := s.assign(buf[:0], t)
	late = !complete
	for _, w := range wins {
		if s.Closed(w, streamTime) {
			late = true
			continue
		}
		i, ok := ws.find(w.Start)
		if !ok {
			ws.insert(i, Slot[A]{Window: w, Agg: empty(), Last: t})
		}
		ws.update(i, t, add)
	}
	return late
}

// find returns the index of the slot starting at start, or where to insert it.
func (ws *Windows[A]) find(start int64) (int, bool) {
	// Keys hold a handful of windows: a linear scan from the newest beats a search.
	for i := len(ws.Slots) - 1; i >= 0; i-- {
		switch s := ws.Slots[i].Window.Start; {
		case s == start:
			return i, true
		case s < start:
			return i + 1, false
		}
	}
	return 0, false
}

func (ws *Windows[A]) insert(i int, slot Slot[A]) {
	ws.Slots = append(ws.Slots, Slot[A]{})
	copy(ws.Slots[i+1:], ws.Slots[i:])
	ws.Slots[i] = slot
}

func (ws *Windows[A]) update(i int, t int64, add func(A)) {
	sl := &ws.Slots[i]
	add(sl.Agg)
	sl.Last = max(sl.Last, t)
	sl.Dirty = true
}

// addSession merges the record with every open session within Gap of it, as Kafka
// Streams' session windows do. A session here is [first, last+1). A record that would
// extend a session already closed starts a new one instead: closed results are final.
// A record at math.MaxInt64 has no session that fits (its End would be past the
// range): it is late.
func (ws *Windows[A]) addSession(s *Spec, t, streamTime int64, add func(A), empty func() A) bool {
	if t == math.MaxInt64 {
		return true
	}
	return ws.mergeSession(s, Window{t, t + 1}, streamTime, add, empty)
}

// mergeSession is addSession for the records of w = [first, last+1) (a non-empty
// interval) at once: w joins every open session within Gap of it.
func (ws *Windows[A]) mergeSession(s *Spec, w Window, streamTime int64, add func(A), empty func() A) bool {
	last := w.End - 1
	// Saturated, first-Gap and last+Gap keep these comparisons exact: a bound past
	// the range becomes the end of the range, which every session lies within.
	lo, hi := satint.Sub(w.Start, s.Gap), satint.Add(last, s.Gap)
	joins := func(sl *Slot[A]) bool {
		return !s.Closed(sl.Window, streamTime) && sl.Window.End-1 >= lo && sl.Window.Start <= hi
	}
	merged, found := w, false
	for i := range ws.Slots {
		if sl := &ws.Slots[i]; joins(sl) {
			merged = Window{min(merged.Start, sl.Window.Start), max(merged.End, sl.Window.End)}
			found = true
		}
	}
	if s.Closed(merged, streamTime) {
		return true
	}
	if !found {
		i, _ := ws.find(w.Start)
		ws.insert(i, Slot[A]{Window: merged, Agg: empty(), Last: last})
		ws.update(i, last, add)
		return false
	}
	// Sessions never overlap, so the joining ones are neighbours in start order and
	// the first keeps its place once its start moves to merged.Start.
	keep := -1
	out := ws.Slots[:0]
	for _, sl := range ws.Slots {
		switch {
		case !joins(&sl):
			out = append(out, sl)
		case keep < 0:
			if sl.Window.Start != merged.Start {
				ws.Removed = append(ws.Removed, sl.Window)
			}
			sl.Window = merged
			keep = len(out)
			out = append(out, sl)
		default:
			k := &out[keep]
			k.Agg.Merge(sl.Agg)
			k.Last = max(k.Last, sl.Last)
			ws.Removed = append(ws.Removed, sl.Window)
		}
	}
	ws.Slots = out
	ws.update(keep, last, add)
	return false
}

// addSliding implements Kafka Streams' SlidingWindows: a window [s, s+Size] (inclusive,
// so End = s+Size+1 here) exists for every distinct non-empty set of records within
// Size of each other, namely each record's left window [t-Size, t] and right window
// [t+1, t+1+Size]. New windows are built from neighbours without re-reading records,
// relying on the invariant that every such window exists:
//   - the window with the largest start below t-Size holds exactly the records in
//     [t-Size, t), so the new left window is a copy of it plus the record;
//   - the window with the largest start <= t that contains t holds, before the
//     record is added, exactly the records in (t, t+1+Size]: the new right window.
//
// Both windows of every record must fit in the int64 range, so a record earlier than
// math.MinInt64+Size or later than math.MaxInt64-Size-2 is late; within that range no
// bound below overflows (t-2*Size saturates, and only orders the search).
func (ws *Windows[A]) addSliding(s *Spec, t, streamTime int64, add func(A), empty func() A) bool {
	d := s.Size
	if d < 0 || t < math.MinInt64+d || t > math.MaxInt64-2-d {
		return true
	}
	right := Window{t + 1, t + d + 2}
	if s.Closed(right, streamTime) {
		return true
	}
	var (
		leftAgg, rightAgg     = -1, -1
		leftDone, rightExists bool
		prev, hasPrev         = int64(0), false
		toUpdate              [64]int
		updates               = toUpdate[:0]
	)
	from := satint.Sub(satint.Sub(t, d), d)
	lo := sort.Search(len(ws.Slots), func(i int) bool { return ws.Slots[i].Window.Start >= from })
	for i := lo; i < len(ws.Slots); i++ {
		sl := &ws.Slots[i]
		start, end := sl.Window.Start, sl.Window.End-1
		switch {
		case start > t+1:
		case end < t:
			leftAgg, prev, hasPrev = i, sl.Last, true
		case end == t:
			leftDone = true
			if sl.Last < t {
				prev, hasPrev = sl.Last, true
			}
			updates = append(updates, i)
		case start <= t:
			rightAgg = i
			updates = append(updates, i)
		case start == t+1:
			rightExists = true
		}
	}
	var created []Slot[A]
	if !rightExists && rightAgg >= 0 && ws.Slots[rightAgg].Last > t {
		src := ws.Slots[rightAgg]
		created = append(created, Slot[A]{Window: right, Agg: src.Agg.Clone(), Last: src.Last, Dirty: true})
	}
	for _, i := range updates {
		if !s.Closed(ws.Slots[i].Window, streamTime) {
			ws.update(i, t, add)
		}
	}
	if hasPrev {
		w := Window{prev + 1, prev + d + 2}
		if _, ok := ws.find(w.Start); !ok && w.End-1 >= t && !s.Closed(w, streamTime) {
			created = append(created, ws.fresh(w, t, add, empty()))
		}
	}
	if left := (Window{t - d, t + 1}); !leftDone && !s.Closed(left, streamTime) {
		agg := empty()
		if hasPrev && prev >= t-d {
			agg = ws.Slots[leftAgg].Agg.Clone()
		}
		created = append(created, ws.fresh(left, t, add, agg))
	}
	for _, sl := range created {
		// The previous record's right window can be this record's left window
		// (prev+1 == t-Size); both hold just this record then.
		if i, ok := ws.find(sl.Window.Start); !ok {
			ws.insert(i, sl)
		}
	}
	return false
}

func (ws *Windows[A]) fresh(w Window, t int64, add func(A), agg A) Slot[A] {
	add(agg)
	return Slot[A]{Window: w, Agg: agg, Last: t, Dirty: true}
}
