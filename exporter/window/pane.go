package window

import "github.com/kwindow/kwindow/exporter/internal/satint"

// Panes are how a tumbling or hopping record is pre-aggregated before it reaches
// its windows (package combine): the time axis is cut into panes of PaneSize
// milliseconds, aligned like the windows (floored to a multiple of the pane size,
// from the epoch). Window starts and ends are multiples of the pane size, so every
// window that contains a time contains that time's whole pane, and the records of
// one pane can be summed once and added to each of its windows as one aggregate.

// PaneSize is the length of a tumbling or hopping spec's panes: gcd(Size, Advance),
// Size for tumbling windows; 0 for other kinds or an invalid spec.
func (s Spec) PaneSize() int64 {
	switch {
	case s.Kind == Tumbling && s.Size > 0:
		return s.Size
	case s.Kind == Hopping && s.Size > 0 && s.Advance > 0:
		a, b := s.Size, s.Advance
		for b != 0 {
			a, b = b, a%b
		}
		return a
	}
	return 0
}

// Pane places a tumbling or hopping record at t, at the given stream time: its
// pane, and from, the start of the earliest window of t still open (the windows
// of t that start before from are closed). late reports, as Windows.Add does,
// that the record is dropped from at least one window (closed, or out of the
// int64 range). ok is false when no window of t is open: the record reaches no
// window at all. The pane lies within the int64 range whenever ok is true.
func (s Spec) Pane(t, streamTime int64) (pane Window, from int64, late, ok bool) {
	g := s.PaneSize()
	if g == 0 {
		return Window{}, 0, true, false
	}
	var buf [8]Window
	wins, complete := s.assign(buf[:0], t)
	late = !complete
	for _, w := range wins { // oldest first: the closed ones come first
		if !s.Closed(w, streamTime) {
			ok, from = true, w.Start
			break
		}
		late = true
	}
	if !ok {
		return Window{}, 0, late, false
	}
	// An open window [from, from+Size) holds t and is aligned to g, so the pane
	// [t-r, t-r+g) lies within it: neither bound overflows.
	r := t % g
	if r < 0 {
		r += g
	}
	return Window{t - r, t - r + g}, from, late, true
}

// MergePane adds a pane's aggregate (merge puts it into a window's aggregate) to
// every window of the tumbling or hopping spec s that contains the pane and starts
// at or after from (math.MinInt64: every such window), at the given stream time;
// last is the latest record time in the pane. It reports whether a window it was
// meant for (one starting at or after from) had closed: the pane is dropped from
// it. Windows that would not fit in the int64 range are left out without being
// reported: whoever built the pane counted its records late for them already.
func (ws *Windows[A]) MergePane(s *Spec, pane Window, from, last, streamTime int64, merge func(A), empty func() A) (late bool) {
	var buf [8]Window
	wins, _ := s.assign(buf[:0], pane.Start)
	for _, w := range wins {
		if w.Start < from || w.End < pane.End {
			continue
		}
		if s.Closed(w, streamTime) {
			late = true
			continue
		}
		i, ok := ws.find(w.Start)
		if !ok {
			ws.insert(i, Slot[A]{Window: w, Agg: empty(), Last: last})
		}
		ws.update(i, last, merge)
	}
	return late
}

// MergeSession adds a pre-aggregated local session w = [first, last+1) (merge puts
// its aggregate into a session's) to the session windows, at the given stream
// time, as Add does for one record: w joins every open session within Gap of it,
// and sessions merged away are listed in Removed. It reports whether w was
// dropped: an empty interval, or one within Gap of a closed session. A single
// record there starts a session of its own (Add), but an interval could overlap
// the closed session, and sessions never overlap; combine's lateness rule keeps
// this from happening (see package combine).
func (ws *Windows[A]) MergeSession(s *Spec, w Window, streamTime int64, merge func(A), empty func() A) (late bool) {
	if w.End <= w.Start {
		return true
	}
	lo, hi := satint.Sub(w.Start, s.Gap), satint.Add(w.End-1, s.Gap)
	for i := range ws.Slots {
		if sl := &ws.Slots[i]; sl.Window.End-1 >= lo && sl.Window.Start <= hi && s.Closed(sl.Window, streamTime) {
			return true
		}
	}
	return ws.mergeSession(s, w, streamTime, merge, empty)
}
