package engine

import (
	"cmp"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/internal/reuse"
	"github.com/kwindow/kwindow/exporter/window"
)

// Change is one window of one key, or its running total (Start == TotalStart).
type Change struct {
	Agg   int    // index of the aggregation in the configuration
	Group string // encoded group key; store.SplitGroup gives the dimension values
	Start int64  // window start, unix ms
	// Pane is 0 for a window or a running total; for a pane variant of a hopping
	// aggregation kept as panes (Options.Panes), v+1 for variant v, stored
	// under store.PaneAgg(name, v) at Start, the pane's start.
	Pane int
	// Value is the window's end, latest event time and aggregate. In Flush.Changes a
	// nil Value.Agg means the window is gone (a session merged into another) and
	// its stored copy must be deleted. For a running total, End is TotalStart and
	// Last the latest event time of the key's events, however late: what tells an
	// idle key from an active one.
	Value aggregate.Value
}

// Flush is what changed since the previous Flush. Its slices are reused by the next
// call: use them before calling Flush again. Aggregates in Closed are final and never
// modified again; those in Changes may be modified by the next Process.
type Flush struct {
	// Changes are the windows updated or deleted, deletions of a key before its
	// updates, and the running totals to store: what goes to the changelog and
	// the store. A tumbling aggregation's stored total is a base that leaves
	// out the key's later windows (see ResolveTotal), stored when it changes.
	Changes []Change
	// Totals are the running totals, whole, of the keys that had events since
	// the last flush: what readers see (End is TotalStart). Their aggregates
	// may be modified by the next Process or Merge.
	Totals []Change
	// Closed are the windows that closed: final results. Those of hopping
	// aggregations kept as panes are in Changes too (they are stored only now).
	Closed []Change
	// Open are, when Flush was asked for them (FlushOpen), the open windows of
	// hopping aggregations kept as panes that changed, assembled from their
	// panes: what live readers see of them. The aggregates are new and not
	// modified again.
	Open []Change
	// StreamTime is the stream time the flush reflects.
	StreamTime int64
}

// Flush collects the windows changed since the last call and the windows that have
// closed since then, and drops closed windows, and keys left without windows, from
// memory. Once Err is set it reports no change.
func (e *Engine) Flush() *Flush { return e.flushing(false) }

// FlushOpen is Flush that also assembles the open hopping windows that changed
// (Flush.Open), for live readers.
func (e *Engine) FlushOpen() *Flush { return e.flushing(true) }

func (e *Engine) flushing(open bool) *Flush {
	f := &e.flush
	// The previous flush's changes are zeroed (they would keep closed
	// windows' aggregates alive) and a minute boundary's arrays released.
	f.Changes, f.Totals, f.Closed, f.Open, f.StreamTime = reuse.Slice(f.Changes), reuse.Slice(f.Totals), reuse.Slice(f.Closed), reuse.Slice(f.Open), e.streamTime
	if e.err != nil {
		return f
	}
	for _, a := range e.aggs {
		for _, k := range a.dirty {
			for _, w := range k.windows.Removed {
				f.Changes = append(f.Changes, Change{Agg: a.index, Group: k.group, Start: w.Start, Value: aggregate.Value{End: w.End}})
			}
			k.windows.Removed = k.windows.Removed[:0]
			total := Change{Agg: a.index, Group: k.group, Start: TotalStart,
				Value: aggregate.Value{End: TotalStart, Last: k.last, Agg: k.total}}
			f.Totals = append(f.Totals, total)
			if !a.deferred() {
				f.Changes = append(f.Changes, total)
			}
			if a.panes {
				if open {
					f.Open = a.openPanes(k, e.streamTime, f.Open)
				}
				for i := range k.windows.Slots {
					if sl := &k.windows.Slots[i]; sl.Dirty {
						sl.Dirty = false
						f.Changes = append(f.Changes, a.paneChange(k, sl, false))
						for _, w := range a.paneWindows(sl.Window.Start) {
							if w.Start >= sl.Window.End && a.spec.CloseTime(w) > a.closedAt {
								a.nextClose = min(a.nextClose, a.spec.CloseTime(w))
								break
							}
						}
					}
				}
			}
			for i := range k.windows.Slots {
				sl := &k.windows.Slots[i]
				if sl.Dirty {
					sl.Dirty = false
					f.Changes = append(f.Changes, change(a.index, k.group, sl))
					a.nextClose = min(a.nextClose, a.spec.CloseTime(sl.Window))
				}
			}
			k.dirty = false
			if len(k.windows.Slots) == 0 { // only late events: nothing keeps it
				a.evict(k)
			}
		}
		clear(a.dirty)
		a.dirty = a.dirty[:0]
		switch {
		case e.streamTime < a.nextClose:
		case a.panes:
			e.closePanes(a, f)
		default:
			f.Closed = e.close(a, f.Closed)
		}
		f.Changes = a.storeBases(f.Changes)
		a.stats.Keys = len(a.keys)
	}
	return f
}

func change(agg int, group string, sl *window.Slot[*aggregate.Aggregate]) Change {
	return Change{Agg: agg, Group: group, Start: sl.Window.Start, Value: aggregate.Value{End: sl.Window.End, Last: sl.Last, Agg: sl.Agg}}
}

// close marks the windows of a closed at the engine's stream time, appends them
// to closed, folds them into their keys' bases (a deferred aggregation), evicts
// the windows no longer needed, and finds the next stream time with work to do.
func (e *Engine) close(a *agg, closed []Change) []Change {
	st := e.streamTime
	next := int64(math.MaxInt64)
	windows := 0
	for _, k := range a.keys {
		// A key restored with its windows reads its total now, to fold them.
		fold := a.deferred() && (k.total != nil || a.closing(k, st) && e.loadKeyTotal(a, k))
		slots := k.windows.Slots[:0]
		for _, sl := range k.windows.Slots {
			if !sl.Closed && a.spec.Closed(sl.Window, st) {
				sl.Closed = true
				closed = append(closed, change(a.index, k.group, &sl))
				if fold {
					e.fold(a, k, &sl)
				}
			}
			if sl.Closed {
				if evict := a.spec.EvictTime(sl.Window); st < evict {
					next = min(next, evict)
					slots = append(slots, sl)
				}
				continue
			}
			next = min(next, a.spec.CloseTime(sl.Window))
			slots = append(slots, sl)
		}
		clear(k.windows.Slots[len(slots):])
		k.windows.Slots = slots
		windows += len(slots)
		if len(slots) == 0 && !k.dirty {
			a.evict(k)
		}
	}
	a.nextClose = next
	a.stats.Windows = windows
	return closed
}

// AdvanceTo moves stream time forward to t without an event, so that windows of an
// idle partition close; the next Flush publishes them. It never moves backwards.
func (e *Engine) AdvanceTo(t int64) { e.streamTime = max(e.streamTime, t) }

// Stats returns the counters of aggregation i, as of the last Flush for Keys and
// Windows.
func (e *Engine) Stats(i int) Stats { return e.aggs[i].stats }

// Aggregation returns the index of the aggregation named name, or -1.
func (e *Engine) Aggregation(name string) int {
	return slices.IndexFunc(e.aggs, func(a *agg) bool { return a.name == name })
}

// Name returns the name of aggregation i.
func (e *Engine) Name(i int) string { return e.aggs[i].name }

// Restore puts a window read back from the store (on task start) into memory, at
// the stream time set by AdvanceTo beforehand. Windows already closed then are
// kept only while newer windows may need them (sliding); they are not published
// again. A restored window is not dirty: the store already has it. Restore reads
// nothing: a restored key's running total is loaded (Options.LoadTotal) when an
// event of the key comes.
//
// A start of TotalStart restores the key's running total instead: only needed
// without LoadTotal (restore totals before windows then); with it, the total is
// kept until the key needs it.
func (e *Engine) Restore(agg int, group []byte, start int64, v aggregate.Value) {
	a := e.aggs[agg]
	if start == TotalStart {
		if k, ok := a.keys[string(group)]; ok {
			a.setTotal(k, v, e.streamTime)
			return
		}
		a.parked[string(group)] = v
		return
	}
	if a.panes {
		return // every window in the store is closed: panes come to RestorePane
	}
	w := window.Window{Start: start, End: v.End}
	closed := a.spec.Closed(w, e.streamTime)
	if closed && e.streamTime >= a.spec.EvictTime(w) {
		return
	}
	k, ok := a.keys[string(group)]
	if !ok {
		k = a.newKey(string(group))
	}
	ws := &k.windows
	i, _ := slices.BinarySearchFunc(ws.Slots, start, func(s window.Slot[*aggregate.Aggregate], t int64) int {
		return cmp.Compare(s.Window.Start, t)
	})
	ws.Slots = slices.Insert(ws.Slots, i, window.Slot[*aggregate.Aggregate]{Window: w, Agg: v.Agg, Last: v.Last, Closed: closed})
	k.expiry = max(k.expiry, a.spec.EvictTime(w))
	a.hold(k)
	if closed {
		a.nextClose = min(a.nextClose, a.spec.EvictTime(w))
	} else {
		a.nextClose = min(a.nextClose, a.spec.CloseTime(w))
	}
}

// RestoreFrom is the earliest window start of aggregation i that may still be in
// memory at the current stream time: a task restoring from its store reads windows
// from there on. Sessions can last arbitrarily long, so for them it is retention.
func (e *Engine) RestoreFrom(i int) int64 {
	st := e.streamTime
	if st == NoTime {
		return math.MinInt64
	}
	s := e.aggs[i].spec
	switch s.Kind {
	case window.Session:
		return st - s.Retention
	case window.Sliding:
		return st - 3*s.Size - s.Grace - 1
	}
	return st - s.Size - s.Grace
}

// Totals calls fn with the running totals of aggregation i that are in memory
// (the aggregates must not be modified): with Options.LoadTotal, those of the keys
// in memory that had an event since they came in, and those given to Restore;
// without it, every key's.
func (e *Engine) Totals(i int, fn func(group string, total *aggregate.Aggregate)) {
	a := e.aggs[i]
	for g, k := range a.keys {
		if k.total != nil {
			fn(g, k.total)
		}
	}
	for g, v := range a.parked {
		fn(g, v.Agg)
	}
}
