// Package engine turns decoded events into window aggregates for one input partition.
//
// An Engine is what a stream task drives: Process applies events, Flush hands out
// what changed since the last flush (for the changelog and the state store) and the
// windows that closed (final results). Windows stay in memory while they are open;
// once closed and flushed they live only in the store. Stream time is the largest
// event time processed; it alone closes windows, so results do not depend on the
// wall clock or on how events were batched. An Engine is not safe for concurrent
// use: one task owns it.
package engine

import (
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// NoTime is the stream time before any event.
const NoTime = math.MinInt64

// OverflowValue is the value of every dimension of the overflow key.
const OverflowValue = "__overflow__"

// TotalStart is the window start under which a group key's running total is kept in
// the store and the changelog: it sorts after every window of the key, and
// retention (which deletes windows by start) never removes it.
const TotalStart = math.MaxInt64

// Engine computes the configured aggregations over one partition's events.
type Engine struct {
	aggs       []*agg
	streamTime int64
	cur        *event.Event
	add        func(*aggregate.Aggregate)
	flush      Flush
}

// agg is the state of one aggregation.
type agg struct {
	index     int
	name      string
	spec      window.Spec
	dims      []int
	maxKeys   int
	keys      map[string]*key
	totals    map[string]*aggregate.Aggregate // running totals, kept when a key's windows are gone
	dirty     []*key                          // keys changed since the last flush
	nextClose int64                           // no window closes before this stream time
	empty     func() *aggregate.Aggregate
	overflow  []byte // encoded overflow group key
	stats     Stats
	vals      [][]byte
	scratch   []byte
}

// key is one group key of an aggregation, its windows in memory and its running
// total of every valid event (late ones included).
type key struct {
	group   string
	windows window.Windows[*aggregate.Aggregate]
	total   *aggregate.Aggregate
	dirty   bool
}

// Stats counts what happened to one aggregation's events since the engine started.
type Stats struct {
	Late       uint64 // events dropped from at least one closed window
	Overflowed uint64 // events counted under the overflow key
	Keys       int    // group keys in memory
	Windows    int    // windows in memory
}

// New builds an engine for a validated configuration.
func New(c *config.Config) *Engine {
	e := &Engine{streamTime: NoTime}
	e.add = func(a *aggregate.Aggregate) { a.Add(e.cur) }
	schema := *c.Sketch.Schema
	for i := range c.Aggregations {
		ac := &c.Aggregations[i]
		withSketch := len(ac.Quantiles) > 0
		a := &agg{
			index:     i,
			name:      ac.Name,
			spec:      ac.WindowSpec(),
			dims:      c.DimensionIndexes(ac),
			maxKeys:   ac.MaxKeys,
			keys:      map[string]*key{},
			totals:    map[string]*aggregate.Aggregate{},
			nextClose: math.MaxInt64,
			empty:     func() *aggregate.Aggregate { return aggregate.New(schema, withSketch) },
			vals:      make([][]byte, len(ac.GroupBy)),
		}
		for range ac.GroupBy {
			a.overflow = store.AppendGroup(a.overflow, []byte(OverflowValue))
		}
		e.aggs = append(e.aggs, a)
	}
	return e
}

// StreamTime is the largest event time processed, or NoTime.
func (e *Engine) StreamTime() int64 { return e.streamTime }

// Process applies one event; its Time must be set (the caller substitutes the record
// time when the payload has none). The result has bit i set when the event was late
// for aggregation i. Process keeps no reference to ev after it returns.
func (e *Engine) Process(ev *event.Event) (late uint64) {
	t := ev.Time
	e.streamTime = max(e.streamTime, t)
	e.cur = ev
	for _, a := range e.aggs {
		k := a.lookup(ev)
		k.total.Add(ev)
		if k.windows.Add(&a.spec, t, e.streamTime, e.add, a.empty) {
			a.stats.Late++
			late |= 1 << a.index
		}
		if !k.dirty {
			k.dirty = true
			a.dirty = append(a.dirty, k)
		}
	}
	e.cur = nil
	return late
}

// lookup finds or creates the key of ev, or the overflow key when the aggregation
// holds MaxKeys keys already.
func (a *agg) lookup(ev *event.Event) *key {
	for i, d := range a.dims {
		a.vals[i] = ev.Dims[d]
	}
	a.scratch = store.AppendGroup(a.scratch[:0], a.vals...)
	if k, ok := a.keys[string(a.scratch)]; ok {
		return k
	}
	group := a.scratch
	if len(a.keys) >= a.maxKeys || (len(a.totals) >= a.maxKeys && a.totals[string(group)] == nil) {
		a.stats.Overflowed++
		group = a.overflow
		if k, ok := a.keys[string(group)]; ok {
			return k
		}
	}
	return a.newKey(string(group))
}

func (a *agg) newKey(group string) *key {
	k := &key{group: group, total: a.totals[group]}
	if k.total == nil {
		k.total = a.empty()
		a.totals[group] = k.total
	}
	a.keys[group] = k
	return k
}
