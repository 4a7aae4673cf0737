package plugin

import (
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// windowStep is the step of an aggregation's own windows: the size of
// tumbling and sliding windows, the advance of hopping ones, the gap of
// sessions. A range query's step is a multiple of it.
func windowStep(w client.WindowSpec) time.Duration {
	switch w.Type {
	case "hopping":
		return time.Duration(w.Advance)
	case "session":
		return time.Duration(w.Gap)
	}
	return time.Duration(w.Size)
}

// stepMultiple is what a step of at least s must be a multiple of: the
// window's step, or the size for hopping windows past their advance (the API
// tiles a longer step with whole windows so that no event counts twice).
func stepMultiple(w client.WindowSpec, s time.Duration) time.Duration {
	if w.Type == "hopping" && s > time.Duration(w.Advance) {
		return time.Duration(w.Size)
	}
	return windowStep(w)
}

// Span is a range query's time range and step: From and To aligned to the
// step, so that points start where windows start.
type Span struct {
	From, To time.Time
	Step     time.Duration
}

// chooseSpan picks a range query's step and aligns its time range. The step
// starts from the query's explicit step, else from the largest of Grafana's
// interval and the window's step, rounded up to a multiple of the window's
// step; then it is raised by whole multiples (of the explicit step, or of the
// window's) until the aligned range holds at most maxDataPoints points.
func chooseSpan(w client.WindowSpec, explicit, interval time.Duration, from, to time.Time, maxDataPoints int64) Span {
	unit := windowStep(w)
	if unit <= 0 {
		unit = time.Minute // an aggregation this plugin does not know: the API will say
	}
	s := explicit
	if s <= 0 {
		s = max(interval, unit)
		if maxDataPoints > 0 {
			s = max(s, ceilDiv(to.Sub(from), time.Duration(maxDataPoints)))
		}
		m := stepMultiple(w, s)
		s = ceilDiv(s, m) * m
	}
	for i := 0; ; i++ {
		sp := align(from, to, s)
		// A range straddling step boundaries can need a few raises; past 100,
		// a point or two more than asked is better than searching on.
		if maxDataPoints <= 0 || int64(sp.To.Sub(sp.From)/s) <= maxDataPoints || i == 100 {
			return sp
		}
		if explicit > 0 {
			s += explicit
		} else {
			s += stepMultiple(w, s)
		}
	}
}

// align widens [from, to) to whole steps counted from the unix epoch, where
// kwindow's windows are aligned.
func align(from, to time.Time, step time.Duration) Span {
	f := from.UnixMilli()
	t := to.UnixMilli()
	st := step.Milliseconds()
	if st <= 0 {
		return Span{From: from, To: to, Step: step}
	}
	f = floorDiv(f, st) * st
	t = -floorDiv(-t, st) * st
	if t <= f {
		t = f + st
	}
	return Span{From: time.UnixMilli(f).UTC(), To: time.UnixMilli(t).UTC(), Step: step}
}

func ceilDiv(a, b time.Duration) time.Duration {
	if b <= 0 {
		return a
	}
	return (a + b - 1) / b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
