package engine

import (
	"fmt"
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// Which keys count against max_keys.
//
// A key is held from the event that brings it in until stream time reaches its
// expiry: the time from which none of its windows is needed in memory (its windows
// have closed, and for sliding windows are no longer copied from). An event of a
// key that is not held goes to the overflow key when max_keys keys are held. This
// depends only on the events and their order, never on when Flush runs: a task
// restored from its store at any commit (it restores exactly the windows not yet
// expired) overflows exactly the events an uninterrupted one would. A key whose
// expiry has passed stays in memory until the next Flush publishes and drops its
// windows, but counts no longer; its next event must be admitted again.
//
// Expiries are checked only when the limit is reached, through a heap of the held
// keys by expiry (an entry may be older than its key's expiry, which only grows:
// it is corrected when it comes up).

// lookup finds or admits the key of ev at stream time st, or returns the overflow
// key when maxKeys keys are held.
func (a *agg) lookup(ev *event.Event, st int64) *key {
	a.scratch = a.groups.Append(a.scratch[:0], ev)
	return a.admit(st, 1)
}

// admit finds or admits the key in a.scratch at stream time st, or returns the
// overflow key (counting n events overflowed) when maxKeys keys are held.
func (a *agg) admit(st int64, n uint64) *key {
	k, ok := a.keys[string(a.scratch)]
	if ok && k.held && st < k.expiry {
		return k
	}
	if ok && k.held {
		a.release(k) // expired: it must be admitted again
	}
	if a.held >= a.maxKeys {
		a.expire(st)
	}
	if a.held >= a.maxKeys {
		a.stats.Overflowed += n
		if over, ok := a.keys[string(a.overflow)]; ok {
			return over
		}
		return a.newKey(string(a.overflow))
	}
	if !ok {
		k = a.newKey(string(a.scratch))
	}
	a.hold(k)
	return k
}

func (a *agg) newKey(group string) *key {
	var k *key
	if a.withSketch {
		sk := &sketchKey{}
		k = &sk.key
		k.totalMem.Sketch = &sk.sketch
	} else {
		k = &key{}
	}
	k.group, k.last, k.expiry, k.heapAt = group, NoTime, NoTime, -1
	k.windows.Slots = k.slotMem[:0]
	a.keys[group] = k
	return k
}

// hold counts k against maxKeys. The overflow key never counts.
func (a *agg) hold(k *key) {
	if k.held || k.group == string(a.overflow) {
		return
	}
	k.held = true
	a.held++
	if k.heapAt < 0 {
		a.expiries.push(k)
	}
}

func (a *agg) release(k *key) {
	if !k.held {
		return
	}
	k.held = false
	a.held--
	if k.heapAt >= 0 {
		a.expiries.remove(k)
	}
}

// windowsChanged updates the expiry of k after its last window changed. Windows
// of a key all have the same length (sessions never overlap), so the last one in
// start order is the last to expire.
func (a *agg) windowsChanged(k *key) {
	if n := len(k.windows.Slots); n > 0 {
		k.expiryOf = k.windows.Slots[n-1].Window
		k.expiry = max(k.expiry, a.spec.EvictTime(k.expiryOf))
	}
}

// expire releases the held keys whose expiry is st or earlier.
func (a *agg) expire(st int64) {
	h := &a.expiries
	for len(*h) > 0 && (*h)[0].at <= st {
		k := (*h)[0].k
		if k.expiry > st {
			h.update(k)
			continue
		}
		a.release(k)
	}
}

// evict takes k out of memory. Its total is in the store (the last Flush handed it
// out) or, without LoadTotal, parked.
func (a *agg) evict(k *key) {
	a.release(k)
	delete(a.keys, k.group)
	if a.keepTotals && k.total != nil {
		a.parked[k.group] = a.stored(k)
	}
}

// loadKeyTotal gives k, a key new in memory or restored, its running total: parked,
// stored (LoadTotal) or empty. It reports false, with e.err set, if LoadTotal failed.
func (e *Engine) loadKeyTotal(a *agg, k *key) bool {
	if v, ok := a.parked[k.group]; ok {
		delete(a.parked, k.group)
		a.setTotal(k, v, e.streamTime)
		return true
	}
	var v aggregate.Value
	if e.loadTotal != nil {
		var err error
		if v, err = e.loadTotal(a.index, []byte(k.group)); err != nil {
			e.err = fmt.Errorf("engine: loading the running total of %s key %s: %w", a.name, groupString(k.group), err)
			return false
		}
	}
	a.setTotal(k, v, e.streamTime)
	if v.Agg == nil && a.deferred() {
		a.save(k) // an empty base: every key with events has a stored total
	}
	return true
}

// emptyTotal makes the total k holds in its own memory empty and returns it.
func (k *key) emptyTotal(schema int32) *aggregate.Aggregate {
	s := k.totalMem.Sketch
	k.totalMem = aggregate.Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}
	if s != nil {
		*s = sketch.Make(schema)
		k.totalMem.Sketch = s
	}
	return &k.totalMem
}

// groupString shows an encoded group key as its dimension values, for errors.
func groupString(group string) string {
	vals, err := store.SplitGroup([]byte(group))
	if err != nil {
		return fmt.Sprintf("%q", group)
	}
	return fmt.Sprintf("%q", vals)
}
