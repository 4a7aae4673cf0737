package engine

import (
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/window"
)

// Part is one piece of a stage-1 delta (see package combine): the aggregate of some
// of a group key's events of one commit interval, and where they go.
type Part struct {
	Start, End int64 // tumbling: the window; hopping: the pane; session: the local session [first, last+1); sliding: [t, t+1); ignored when Late
	From       int64 // hopping: merge into windows starting at or after From; otherwise math.MinInt64
	Last       int64 // largest event time in the part
	Late       bool  // events late at stage 1: they count toward the running total only
	Agg        *aggregate.Aggregate
}

// Merge applies a part to group key group (encoded as store.AppendGroup does) of
// aggregation agg, at the engine's stream time (only AdvanceTo moves it on a
// merging engine; Merge never does). It adds p.Agg to the key's running total
// (loading it with Options.LoadTotal like Process) and, unless p.Late, to the key's
// windows: a tumbling part to its window, a hopping pane to every window holding it
// that starts at or after p.From, a session part to the open sessions within the
// gap (window.Windows.MergeSession), and a sliding part as Process adds an event at
// p.Start (so sliding parts must hold events of one millisecond). It reports
// whether the part was dropped from a window that had already closed
// (Stats.LateMerges counts them; combine's lateness rules make it 0, but a source
// whose watermark went backwards could cause it). Keys beyond max_keys merge into
// the overflow key as Process does (Stats.Overflowed counts events: p.Agg.Count).
// Merge keeps no reference to p.Agg. Once Err is set it does nothing.
//
// Process and Merge are never mixed on one engine: a stage-1 task combines (package
// combine), a stage-2 task merges.
func (e *Engine) Merge(agg int, group string, p *Part) (late bool) {
	if e.err != nil {
		return false
	}
	a := e.aggs[agg]
	a.scratch = append(a.scratch[:0], group...)
	k := a.admit(e.streamTime, p.Agg.Count)
	if k.total == nil && !e.loadKeyTotal(a, k) {
		return false
	}
	k.total.Merge(p.Agg)
	k.last = max(k.last, p.Last)
	e.part = p
	dropped := p.Late
	switch {
	case p.Late:
	case a.panes:
		late, dropped = a.mergePane(k, p, e.streamTime, e.merge)
	default:
		late = a.mergeWindows(k, p, e.streamTime, e.merge)
		dropped = late // a tumbling part has one window
		if n := len(k.windows.Slots); n > 0 && k.windows.Slots[n-1].Window != k.expiryOf {
			a.windowsChanged(k)
		}
	}
	// A deferred total's base takes what no window (pane) at or after its
	// folded time has (totals.go).
	if a.deferred() && (dropped || p.Start < k.folded) {
		e.toBase(a, k, e.merge)
	}
	e.part = nil
	if late {
		a.stats.LateMerges++
	}
	if !k.dirty {
		k.dirty = true
		a.dirty = append(a.dirty, k)
	}
	return late
}

func (a *agg) mergeWindows(k *key, p *Part, st int64, merge func(*aggregate.Aggregate)) bool {
	ws, w := &k.windows, window.Window{Start: p.Start, End: p.End}
	switch a.spec.Kind {
	case window.Tumbling, window.Hopping:
		from := p.From
		if a.spec.Kind == window.Tumbling {
			from = math.MinInt64
		}
		return ws.MergePane(&a.spec, w, from, p.Last, st, merge, a.empty)
	case window.Session:
		return ws.MergeSession(&a.spec, w, st, merge, a.empty)
	}
	return ws.Add(&a.spec, p.Start, st, merge, a.empty)
}
