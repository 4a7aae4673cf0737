package engine

import (
	"fmt"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	"github.com/kwindow/kwindow/exporter/window"
)

// Running totals of tumbling aggregations are stored as a base.
//
// A key's running total counts every event of the key. Stored whole, it would be
// encoded, written to the store and changelogged at every commit the key has an
// event in: with many keys, about as often as its window, and with a sketch of
// every event ever, a larger value than the window's. A tumbling window holds each
// event of its time exactly once, so the total is stored as a base instead: the
// events not in a window starting at or after a time F, the key's folded time,
// stored as the total's Value.End. The total is the base plus the key's windows
// starting at or after F, which the store has (each open window is stored at every
// commit that changed it). When a window closes, the flush folds it into the base
// and F moves to its end; an event late for its window goes into the base at once.
// So the base changes, and is stored, once per window of the key, plus at the
// commits with late events; Flush.Totals still hands out the whole total, for
// readers, at every flush that changed it.
//
// A total stored whole (End == TotalStart, by a kwindow from before) has every
// event of the key's windows in memory when it is read: it becomes a base with F
// the end of the last of them (events still coming to those windows go into the
// base too: they start before F), stored at the next flush, and later windows
// are kept apart from it as above.
//
// A hopping aggregation kept as panes (Options.Panes, stage 2) does the same
// with its pane variants, each holding its events once: a variant is folded
// into the base when it is deleted (the last window holding its pane closed; a
// pane's variants go together) and F moves to the pane's end; the whole total
// is the base plus the stored variants of panes starting at or after F.
// Hopping windows adding each event to several windows, sessions and sliding
// windows share or merge events: their totals are stored whole, at every
// flush that changed them.

// deferred reports whether aggregation a stores its running totals as a base.
func (a *agg) deferred() bool { return a.spec.Kind == window.Tumbling || a.panes }

// setTotal gives k its running total from v, a stored total (a nil v.Agg when
// the key has none): for a deferred aggregation v is a base, and the total
// adds the key's windows in memory starting at or after v.End.
func (a *agg) setTotal(k *key, v aggregate.Value, st int64) {
	if !a.deferred() {
		if v.Agg == nil {
			k.total, k.last = k.emptyTotal(a.schema), NoTime
		} else {
			k.total, k.last = v.Agg, v.Last
		}
		return
	}
	k.total, k.base, k.baseOut, k.last, k.folded = k.emptyTotal(a.schema), v.Agg, false, NoTime, NoTime
	if v.Agg != nil {
		k.total.Merge(v.Agg)
		k.last, k.folded = v.Last, v.End
	}
	if k.folded == TotalStart {
		k.folded = a.wholeUntil(k, st)
		a.save(k)
	}
	for i := range k.windows.Slots {
		if sl := &k.windows.Slots[i]; sl.Window.Start >= k.folded {
			k.total.Merge(sl.Agg)
			k.last = max(k.last, sl.Last)
		}
	}
}

// wholeUntil is the folded time of a total stored whole, read at stream time
// st: it has every event of the key's windows in memory, which stay in the base
// (the events still coming to them go there too: they start before it), and of
// the windows stored before, all closed at st; the windows from the first open
// at st on are kept apart from it.
func (a *agg) wholeUntil(k *key, st int64) int64 {
	n := len(k.windows.Slots)
	switch {
	case a.panes && n > 0:
		return k.windows.Slots[n-1].Window.Start + a.paneSize // slots are panes, by start
	case a.panes:
		return NoTime // a pane is stored only while in memory
	case n > 0:
		return k.windows.Slots[n-1].Window.End
	}
	if st == NoTime {
		return NoTime
	}
	var buf [1]window.Window
	if w := a.spec.Assign(buf[:0], satint.Sub(st, a.spec.Grace)); len(w) > 0 {
		return w[0].Start // the first window open at st
	}
	return st
}

// toBase adds what fn adds to k's base, and has the base stored at this flush.
// A base that is only in the store is read back first (Options.LoadTotal).
func (e *Engine) toBase(a *agg, k *key, fn func(*aggregate.Aggregate)) {
	if k.base == nil && k.baseOut {
		v, err := e.loadTotal(a.index, []byte(k.group))
		if err != nil {
			if e.err == nil {
				e.err = fmt.Errorf("engine: loading the running total of %s key %s: %w", a.name, groupString(k.group), err)
			}
			return
		}
		k.base, k.baseOut = v.Agg, false
	}
	if k.base == nil {
		k.base = a.empty()
	}
	fn(k.base)
	a.save(k)
}

// save has k's base stored at this flush.
func (a *agg) save(k *key) {
	if !k.saving {
		k.saving = true
		a.saved = append(a.saved, k)
	}
}

// fold moves the closed window sl of k into its base, unless the base has its
// events already (a total stored whole).
func (e *Engine) fold(a *agg, k *key, sl *window.Slot[*aggregate.Aggregate]) {
	if sl.Window.Start < k.folded {
		return
	}
	e.toBase(a, k, func(b *aggregate.Aggregate) { b.Merge(sl.Agg) })
	k.folded = sl.Window.End
}

// closing reports whether a window of k closes at stream time st.
func (a *agg) closing(k *key, st int64) bool {
	for i := range k.windows.Slots {
		if sl := &k.windows.Slots[i]; !sl.Closed && a.spec.Closed(sl.Window, st) {
			return true
		}
	}
	return false
}

// storeBases appends to changes the bases changed since the last flush.
func (a *agg) storeBases(changes []Change) []Change {
	for _, k := range a.saved {
		k.saving = false
		if k.base == nil {
			k.base = a.empty()
		}
		changes = append(changes, Change{Agg: a.index, Group: k.group, Start: TotalStart,
			Value: aggregate.Value{End: k.folded, Last: k.last, Agg: k.base}})
		if !a.keepTotals {
			// The store has it from this flush's commit on: with quantiles
			// it is a second sketch per key, so only the store keeps it
			// (read back when it next changes, about once a window). An
			// empty base is nil.
			k.base, k.baseOut = nil, k.base.Count > 0
		}
	}
	clear(a.saved)
	a.saved = a.saved[:0]
	return changes
}

// stored is what the store holds of k's running total once this flush's changes
// are written: parked when k leaves memory without a store to come back from.
func (a *agg) stored(k *key) aggregate.Value {
	if !a.deferred() {
		return aggregate.Value{End: TotalStart, Last: k.last, Agg: k.total}
	}
	if k.base == nil {
		return aggregate.Value{}
	}
	return aggregate.Value{End: k.folded, Last: k.last, Agg: k.base}
}

// ResolveTotal is a running total as read from the store or a changelog (v, at
// TotalStart) made whole: windows calls fn with every stored window of the key
// starting at or after v.End, or, for a hopping aggregation kept as panes, every
// stored pane variant (store.PaneAgg) of a pane starting at or after v.End (a
// deferred aggregation's base leaves them out; see above). A total stored whole (v.End == TotalStart) is returned as it is. The
// result is new; v.Agg is not modified.
func ResolveTotal(v aggregate.Value, windows func(from int64, fn func(aggregate.Value))) aggregate.Value {
	if v.End == TotalStart || v.Agg == nil {
		return v
	}
	out := aggregate.Value{End: TotalStart, Last: v.Last, Agg: v.Agg.Clone()}
	windows(v.End, func(w aggregate.Value) {
		out.Agg.Merge(w.Agg)
		out.Last = max(out.Last, w.Last)
	})
	return out
}
