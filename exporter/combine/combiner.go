package combine

import (
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	"github.com/kwindow/kwindow/exporter/window"
)

// Combiner is one stage-1 task's state: the parts of the keys changed since the
// last Flush, per aggregation. It is not safe for concurrent use.
type Combiner struct {
	aggs       []*agg
	streamTime int64
	delta      Delta // what Flush hands out
}

// agg is the state of one aggregation.
type agg struct {
	index   int
	name    string
	spec    window.Spec
	groups  *engine.GroupKey
	empty   func() *aggregate.Aggregate
	values  bool // the aggregation needs value statistics (config.Aggregation.NeedsValue)
	keys    map[string]*key
	order   []*key // keys in the order they came, as Flush hands them out
	stats   Stats
	flushed uint64 // stats.Late at the last Flush: what Reset goes back to
	scratch []byte
	placed  placed // the last Spec.Pane answer (tumbling and hopping)
	// free are keys of earlier intervals, emptied, for lookup to reuse with their
	// parts' aggregates: a stage-1 part's sketch grows from nothing to the span of
	// its key's values every interval, and most keys come back the next interval,
	// so reusing it saves most of what stage 1 allocates (at 10,000 keys, a fifth
	// of what the exporter allocated). At most the keys of the last interval.
	free []*key
}

// placed is an answer of Spec.Pane, and where it holds: for any time in pane
// and any stream time from st up to (not including) until, when the window
// starting at from closes. Most events of an interval fall in a handful of
// panes, and Pane assigns and tests every window of the time.
type placed struct {
	pane      window.Window
	from      int64
	late      bool
	st, until int64
}

// key holds the parts of one group key this interval.
type key struct {
	group string
	// parts are never Late. Beyond len, up to cap, parts of an earlier interval
	// keep their emptied aggregates for newPart (or a nil Agg).
	parts []engine.Part
	late  *engine.Part // the events late at stage 1, or nil
}

// Stats counts what happened to one aggregation's events.
type Stats struct {
	// Late is the events late for at least one window since New, those of the
	// intervals a Reset took back excepted.
	Late uint64
	Keys int // group keys held this interval (since the last Flush or Reset)
}

// New returns the combiner of a validated configuration.
func New(c *config.Config) *Combiner {
	cb := &Combiner{streamTime: engine.NoTime}
	schema := *c.Sketch.Schema
	for i := range c.Aggregations {
		ac := &c.Aggregations[i]
		withSketch := len(ac.Quantiles) > 0
		cb.aggs = append(cb.aggs, &agg{
			index:  i,
			name:   ac.Name,
			spec:   ac.WindowSpec(),
			groups: engine.NewGroupKey(c, ac),
			empty:  func() *aggregate.Aggregate { return aggregate.New(schema, withSketch) },
			values: ac.NeedsValue(),
			keys:   map[string]*key{},
		})
	}
	return cb
}

// StreamTime is the largest event time processed (or given to AdvanceTo), or
// engine.NoTime: the watermark the task ships with its deltas.
func (c *Combiner) StreamTime() int64 { return c.streamTime }

// AdvanceTo sets stream time to max(stream time, t): on restore, and when the idle
// timeout moves a silent partition on.
func (c *Combiner) AdvanceTo(t int64) { c.streamTime = max(c.streamTime, t) }

// Stats returns the counters of aggregation i.
func (c *Combiner) Stats(i int) Stats {
	a := c.aggs[i]
	s := a.stats
	s.Keys = len(a.keys)
	return s
}

// Process adds one event, whose Time is set, to the parts of its keys. The result
// has bit i set when the event was late for aggregation i, by the rules of the
// package comment (as engine.Process reports it). Process keeps no reference to ev.
func (c *Combiner) Process(ev *event.Event) (late uint64) {
	c.streamTime = max(c.streamTime, ev.Time)
	return c.ProcessAt(ev, c.streamTime)
}

// ProcessAt is Process for a combiner that several stage-1 tasks share (the input
// partitions one instance runs, so that a key changed on all of them costs one
// delta per interval, not one per partition): lateness is decided at streamTime,
// the stream time of the task whose event it is, which the caller keeps (its
// largest event time, this event's included); the combiner's own is left alone.
// Sharing keeps the guarantee of the package comment: each part holds only events
// that were not late at their own task, whose watermarks the runtime ships after
// the deltas.
func (c *Combiner) ProcessAt(ev *event.Event, streamTime int64) (late uint64) {
	t := ev.Time
	for _, a := range c.aggs {
		k := a.lookup(ev)
		p, isLate := a.place(k, t, streamTime)
		p.Agg.Add(ev)
		p.Last = max(p.Last, t)
		if isLate {
			a.stats.Late++
			late |= 1 << a.index
		}
	}
	return late
}

func (a *agg) lookup(ev *event.Event) *key {
	a.scratch = a.groups.Append(a.scratch[:0], ev)
	k, ok := a.keys[string(a.scratch)]
	if !ok {
		if n := len(a.free); n > 0 {
			k, a.free[n-1], a.free = a.free[n-1], nil, a.free[:n-1]
		} else {
			k = &key{}
		}
		k.group = string(a.scratch)
		a.keys[k.group] = k
		a.order = append(a.order, k)
	}
	return k
}

// place returns the part an event at t goes to at stream time st, and whether the
// event is late.
func (a *agg) place(k *key, t, st int64) (*engine.Part, bool) {
	s := &a.spec
	switch s.Kind {
	case window.Tumbling, window.Hopping:
		c := &a.placed
		if t < c.pane.Start || t >= c.pane.End || st < c.st || st >= c.until {
			pane, from, late, ok := s.Pane(t, st)
			if !ok {
				return a.latePart(k), true
			}
			// Windows close in start order: the answer holds while the window
			// at from is open, for stream times at or after st (at earlier
			// ones, windows before from may be open).
			*c = placed{pane: pane, from: from, late: late, st: st,
				until: s.CloseTime(window.Window{Start: from, End: satint.Add(from, s.Size)})}
		}
		pane, from, late := c.pane, c.from, c.late
		if s.Kind == window.Tumbling {
			from = math.MinInt64
		}
		for i := len(k.parts) - 1; i >= 0; i-- {
			if p := &k.parts[i]; p.Start == pane.Start && p.From == from {
				return p, late
			}
		}
		return a.newPart(k, pane.Start, pane.End, from), late
	case window.Session:
		if t == math.MaxInt64 || satint.Add(t, s.Grace) <= st {
			return a.latePart(k), true
		}
		return a.session(k, t), false
	case window.Sliding:
		// Late once the left window [t-size, t] is closed (t+grace <= st), not only
		// the right one as in Windows.Add: see the package comment.
		d := s.Size
		if t < math.MinInt64+d || t > math.MaxInt64-2-d || s.Closed(window.Window{Start: t - d, End: t + 1}, st) {
			return a.latePart(k), true
		}
		for i := len(k.parts) - 1; i >= 0; i-- {
			if p := &k.parts[i]; p.Start == t {
				return p, false
			}
		}
		return a.newPart(k, t, t+1, math.MinInt64), false
	}
	return a.latePart(k), true
}

func (a *agg) newPart(k *key, start, end, from int64) *engine.Part {
	n := len(k.parts)
	if n == cap(k.parts) {
		k.parts = append(k.parts, engine.Part{})
	} else {
		k.parts = k.parts[:n+1]
	}
	p := &k.parts[n]
	ag := p.Agg // emptied by release, or nil
	if ag == nil {
		ag = a.empty()
	}
	*p = engine.Part{Start: start, End: end, From: from, Last: engine.NoTime, Agg: ag}
	return p
}

// release empties k and its parts' aggregates and puts it on the free list: the
// interval is over (flushed or reset) and nothing refers to its parts any more.
// Spare parts this interval did not use let their aggregates go: a tumbling key
// has two parts for an interval at a window's end, then one for a minute.
func (a *agg) release(k *key) {
	for i := range k.parts {
		if ag := k.parts[i].Agg; ag != nil {
			emptyAggregate(ag)
		}
	}
	clear(k.parts[len(k.parts):cap(k.parts)])
	k.group, k.parts, k.late = "", k.parts[:0], nil
	a.free = append(a.free, k)
}

// emptyAggregate makes ag an empty aggregate, as aggregate.New does, keeping its
// sketch and the sketch's bucket arrays.
func emptyAggregate(ag *aggregate.Aggregate) {
	s := ag.Sketch
	if s != nil {
		s.Reset()
	}
	*ag = aggregate.Aggregate{Min: math.Inf(1), Max: math.Inf(-1), Sketch: s}
}

func (a *agg) latePart(k *key) *engine.Part {
	if k.late == nil {
		k.late = &engine.Part{From: math.MinInt64, Last: engine.NoTime, Late: true, Agg: a.empty()}
	}
	return k.late
}

// session merges an event at t (not late: t < math.MaxInt64) with every local
// session of k within the gap of it, as window.Windows.Add does with sessions,
// and returns the part it belongs to; its bounds include t on return.
func (a *agg) session(k *key, t int64) *engine.Part {
	lo, hi := satint.Sub(t, a.spec.Gap), satint.Add(t, a.spec.Gap)
	keep := -1
	out := k.parts[:0]
	for _, p := range k.parts {
		switch {
		case p.End-1 < lo || p.Start > hi:
			out = append(out, p)
		case keep < 0:
			keep = len(out)
			out = append(out, p)
		default:
			q := &out[keep]
			q.Start, q.End, q.Last = min(q.Start, p.Start), max(q.End, p.End), max(q.Last, p.Last)
			q.Agg.Merge(p.Agg)
		}
	}
	clear(k.parts[len(out):])
	k.parts = out
	if keep < 0 {
		return a.newPart(k, t, t+1, math.MinInt64)
	}
	p := &k.parts[keep]
	p.Start, p.End = min(p.Start, t), max(p.End, t+1)
	return p
}

// Reset drops what was processed since the last Flush and sets stream time to
// streamTime (an aborted transaction: the consumer rewinds to the committed
// offsets). Stats.Late goes back to its value at the last Flush.
func (c *Combiner) Reset(streamTime int64) {
	c.streamTime = streamTime
	for _, a := range c.aggs {
		a.recycle()
		a.stats.Late = a.flushed
	}
}

// recycle releases every key of the interval and forgets them. The free list
// keeps at most that many keys: what the interval used, not the most any did.
func (a *agg) recycle() {
	n := len(a.order)
	for _, k := range a.order {
		a.release(k)
	}
	if extra := len(a.free) - n; extra > 0 {
		clear(a.free[:extra])
		a.free = append(a.free[:0], a.free[extra:]...)
	}
	a.forget()
}

// forget drops the interval's keys without releasing them (they moved, or were
// released).
func (a *agg) forget() {
	clear(a.keys)
	clear(a.order)
	a.order = a.order[:0]
}
