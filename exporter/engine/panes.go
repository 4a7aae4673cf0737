package engine

import (
	"cmp"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/window"
)

// Hopping windows at stage 2 (Options.Panes): panes, assembled at close.
//
// Stage 1 sends a hopping aggregation's events per pane (window.Spec.PaneSize),
// with the start of the earliest window each part goes to (Part.From). A merging
// engine with Options.Panes keeps those parts as they are instead of adding each
// to the size/advance windows that hold it: per key, one aggregate per pane
// variant, where variant v of the pane starting at p goes to the windows
// Assign(p)[v:] (store.PaneAgg). A Flush hands out the variants that changed,
// for the store and changelog; a window is assembled from its variants once,
// when it closes (handed out as a Change to store and in Closed), and, for live
// readers, when Flush is asked for the open windows (Flush.Open). A variant
// leaves memory, and the store (a deletion in Changes), once the last window
// that holds its pane has closed.
//
// A key's slots then hold variants, not windows: Slot.Window.Start is the pane
// start and Slot.Window.End the start of the first window it goes to (the
// pane's end is Start + PaneSize), sorted by both.

// paneSlot is a key's slot for pane variant (pane, from).
func paneSlot(ws *window.Windows[*aggregate.Aggregate], pane, from int64) (int, bool) {
	return slices.BinarySearchFunc(ws.Slots, window.Window{Start: pane, End: from}, func(s window.Slot[*aggregate.Aggregate], w window.Window) int {
		if c := cmp.Compare(s.Window.Start, w.Start); c != 0 {
			return c
		}
		return cmp.Compare(s.Window.End, w.End)
	})
}

// paneWindows returns the windows holding the pane starting at p, oldest first,
// in a buffer of a's that the next call reuses.
func (a *agg) paneWindows(p int64) []window.Window {
	a.wins = a.spec.Assign(a.wins[:0], p)
	return a.wins
}

// mergePane adds part p (a pane of a hopping aggregation) to its variant of
// key k at stream time st. It reports whether a window the part was meant for
// had closed: the part does not reach it (the variant's other windows still
// get it), or, when every one had, is dropped (dropped: no variant has it).
func (a *agg) mergePane(k *key, p *Part, st int64, merge func(*aggregate.Aggregate)) (late, dropped bool) {
	wins := a.paneWindows(p.Start)
	v := slices.IndexFunc(wins, func(w window.Window) bool { return w.Start >= p.From })
	if v < 0 {
		return true, true
	}
	// Windows close in start order: those of the part still open are the last
	// ones. The variant goes to those only, so that no window closed at this
	// stream time (published or about to be) gets the part.
	o := slices.IndexFunc(wins[v:], func(w window.Window) bool { return !a.spec.Closed(w, st) })
	if o < 0 {
		return true, true
	}
	late = o > 0
	from := wins[v+o].Start
	ws := &k.windows
	i, ok := paneSlot(ws, p.Start, from)
	if !ok {
		ws.Slots = slices.Insert(ws.Slots, i, window.Slot[*aggregate.Aggregate]{Window: window.Window{Start: p.Start, End: from}, Agg: a.empty(), Last: p.Last})
	}
	sl := &ws.Slots[i]
	merge(sl.Agg)
	sl.Last = max(sl.Last, p.Last)
	sl.Dirty = true
	last := wins[len(wins)-1]
	k.expiry = max(k.expiry, a.spec.CloseTime(last))
	return late, false
}

// paneVariant is the variant index of slot sl: which window of its pane's the
// first it goes to is.
func (a *agg) paneVariant(sl *window.Slot[*aggregate.Aggregate]) int {
	for v, w := range a.paneWindows(sl.Window.Start) {
		if w.Start == sl.Window.End {
			return v
		}
	}
	return 0 // not reached: a variant's from is one of its pane's windows
}

// paneChange is the Change that stores slot sl (a pane variant) of key k, or
// deletes it when del.
func (a *agg) paneChange(k *key, sl *window.Slot[*aggregate.Aggregate], del bool) Change {
	c := Change{Agg: a.index, Group: k.group, Start: sl.Window.Start, Pane: a.paneVariant(sl) + 1,
		Value: aggregate.Value{End: sl.Window.Start + a.paneSize, Last: sl.Last, Agg: sl.Agg}}
	if del {
		c.Value.Agg = nil
	}
	return c
}

// assemble merges the variants of key k that go to window w into a new
// aggregate: the window's value.
func (a *agg) assemble(k *key, w window.Window) aggregate.Value {
	v := aggregate.Value{End: w.End, Last: NoTime, Agg: a.empty()}
	for i := range k.windows.Slots {
		sl := &k.windows.Slots[i]
		if sl.Window.Start >= w.Start && sl.Window.Start < w.End && sl.Window.End <= w.Start {
			v.Agg.Merge(sl.Agg)
			v.Last = max(v.Last, sl.Last)
		}
	}
	return v
}

// closePanes publishes the windows of a panes aggregation that close at stream
// time st, assembled from their variants, into f.Closed and, to be stored,
// f.Changes; deletes the variants no open window needs any more; and finds the
// next stream time with work to do.
func (e *Engine) closePanes(a *agg, f *Flush) {
	st := e.streamTime
	next := int64(math.MaxInt64)
	count := 0
	var starts []int64
	for _, k := range a.keys {
		// A key restored with its panes reads its total now, to fold those
		// it deletes into its base (totals.go).
		fold := k.total != nil || a.deleting(k, st) && e.loadKeyTotal(a, k)
		starts = starts[:0]
		for i := range k.windows.Slots {
			sl := &k.windows.Slots[i]
			for _, w := range a.paneWindows(sl.Window.Start) {
				if w.Start < sl.Window.End {
					continue
				}
				switch c := a.spec.CloseTime(w); {
				case c > st:
					next = min(next, c)
				case c > a.closedAt:
					starts = append(starts, w.Start)
				}
			}
		}
		slices.Sort(starts)
		for _, s := range slices.Compact(starts) {
			w := window.Window{Start: s, End: s + a.spec.Size}
			v := a.assemble(k, w)
			c := Change{Agg: a.index, Group: k.group, Start: s, Value: v}
			f.Changes = append(f.Changes, c)
			f.Closed = append(f.Closed, c)
		}
		slots := k.windows.Slots[:0]
		folded := k.folded
		for _, sl := range k.windows.Slots {
			wins := a.paneWindows(sl.Window.Start)
			if a.spec.Closed(wins[len(wins)-1], st) {
				f.Changes = append(f.Changes, a.paneChange(k, &sl, true))
				if fold && sl.Window.Start >= k.folded {
					// Every variant of the pane goes at once (they share its
					// last window): the folded time moves past the pane after.
					e.toBase(a, k, func(b *aggregate.Aggregate) { b.Merge(sl.Agg) })
					folded = max(folded, sl.Window.Start+a.paneSize)
				}
				continue
			}
			slots = append(slots, sl)
		}
		k.folded = folded
		clear(k.windows.Slots[len(slots):])
		k.windows.Slots = slots
		count += len(slots)
		if len(slots) == 0 && !k.dirty {
			a.evict(k)
		}
	}
	a.closedAt = max(a.closedAt, st)
	a.nextClose = next
	a.stats.Windows = count
}

// deleting reports whether a variant of k is deleted at stream time st: the
// last window holding its pane closes.
func (a *agg) deleting(k *key, st int64) bool {
	for i := range k.windows.Slots {
		wins := a.paneWindows(k.windows.Slots[i].Window.Start)
		if a.spec.Closed(wins[len(wins)-1], st) {
			return true
		}
	}
	return false
}

// openPanes appends to open the windows of key k that its dirty variants go
// to and that are open at stream time st, assembled: what live readers see.
func (a *agg) openPanes(k *key, st int64, open []Change) []Change {
	n := len(open)
	for i := range k.windows.Slots {
		sl := &k.windows.Slots[i]
		if !sl.Dirty {
			continue
		}
		for _, w := range a.paneWindows(sl.Window.Start) {
			if w.Start < sl.Window.End || a.spec.Closed(w, st) {
				continue
			}
			if slices.ContainsFunc(open[n:], func(c Change) bool { return c.Start == w.Start }) {
				continue
			}
			open = append(open, Change{Agg: a.index, Group: k.group, Start: w.Start, Value: aggregate.Value{End: w.End}})
		}
	}
	for i := n; i < len(open); i++ {
		open[i].Value = a.assemble(k, window.Window{Start: open[i].Start, End: open[i].Value.End})
	}
	return open
}

// RestorePane puts variant v of the pane starting at pane (group key group of
// aggregation agg, read back from the store under store.PaneAgg) into memory,
// at the stream time set by AdvanceTo beforehand: the windows that had closed
// by then were published before. A variant whose windows have all closed is
// not restored (its deletion was in the same commit as the last close).
func (e *Engine) RestorePane(agg int, group []byte, pane int64, v int, val aggregate.Value) {
	a := e.aggs[agg]
	if !a.panes {
		return
	}
	a.closedAt = max(a.closedAt, e.streamTime)
	wins := a.paneWindows(pane)
	if v < 0 || v >= len(wins) || a.spec.Closed(wins[len(wins)-1], e.streamTime) {
		return
	}
	from := wins[v].Start
	k, ok := a.keys[string(group)]
	if !ok {
		k = a.newKey(string(group))
	}
	ws := &k.windows
	i, found := paneSlot(ws, pane, from)
	if found {
		ws.Slots[i].Agg.Merge(val.Agg)
		ws.Slots[i].Last = max(ws.Slots[i].Last, val.Last)
	} else {
		ws.Slots = slices.Insert(ws.Slots, i, window.Slot[*aggregate.Aggregate]{Window: window.Window{Start: pane, End: from}, Agg: val.Agg, Last: val.Last})
	}
	k.expiry = max(k.expiry, a.spec.CloseTime(wins[len(wins)-1]))
	a.hold(k)
	for _, w := range wins[v:] {
		if !a.spec.Closed(w, e.streamTime) {
			a.nextClose = min(a.nextClose, a.spec.CloseTime(w))
			break
		}
	}
}
