// Package engine turns decoded events into window aggregates for one input partition.
//
// An Engine is what a stream task drives: Process applies events, Flush hands out
// what changed since the last flush (for the changelog and the state store) and the
// windows that closed (final results). Windows stay in memory while they are open;
// once closed and flushed they live only in the store. Stream time is the largest
// event time processed; it alone closes windows, so results do not depend on the
// wall clock or on how events were batched. An Engine is not safe for concurrent
// use: one task owns it.
//
// Memory is bounded by keys, not by the keys ever seen. A group key is held from
// the event that brings it in until stream time passes the close of its latest
// window (for sliding windows, until no newer window can need it); max_keys bounds
// the keys held at once, per aggregation and engine (one input partition), and
// events of further keys count under the overflow key (see keys.go). A key leaves
// memory with its last window. Its running total (every event of the key, late
// ones included, and the time of its latest event) is in memory while the key is;
// the store keeps it (every Flush hands it out), and Options.LoadTotal brings it
// back when the key returns.
package engine

import (
	"math"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
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
	part       *Part // the part Merge is applying
	merge      func(*aggregate.Aggregate)
	flush      Flush
	loadTotal  func(agg int, group []byte) (aggregate.Value, error)
	err        error // the first LoadTotal error: see Err
}

// Options are an engine's optional hooks.
type Options struct {
	// LoadTotal returns the stored running total of a group key of aggregation agg
	// (its Value as in Flush.Changes at Start TotalStart; a nil Value.Agg when there
	// is none), for a key that comes back into memory after it left. The engine
	// modifies the aggregate it returns. LoadTotal must see every Change of every
	// Flush but the ones rolled back: a stream task writes a transaction's changes
	// to its store before it processes again, and rebuilds the engine from the
	// store when the transaction aborts. A stream task sets it to a store.Get of
	// store.Key{Agg: name, Group: group, Start: TotalStart}.
	//
	// Without it (nil) the engine keeps every key's running total in memory for
	// good, as it did before LoadTotal existed: Restore must then be given the
	// totals too.
	LoadTotal func(agg int, group []byte) (aggregate.Value, error)

	// Panes makes a merging engine keep hopping aggregations as pane variants
	// and assemble their windows when they close (see panes.go): stage 2 sets
	// it. Without it, Merge adds each pane to the windows that hold it.
	Panes bool
}

// agg is the state of one aggregation.
type agg struct {
	index      int
	name       string
	spec       window.Spec
	groups     *GroupKey
	maxKeys    int
	keys       map[string]*key // keys in memory, the overflow key among them
	dirty      []*key          // keys changed since the last flush
	held       int             // keys counted against maxKeys
	expiries   expiryHeap      // the held keys, soonest expiry first
	nextClose  int64           // no window closes before this stream time
	empty      func() *aggregate.Aggregate
	schema     int32 // the sketch's, when withSketch
	withSketch bool
	overflow   []byte // encoded overflow group key
	// parked holds running totals of keys not in memory that have no store to
	// come back from: given to Restore, or every total when there is no LoadTotal.
	parked     map[string]aggregate.Value
	keepTotals bool // no LoadTotal: park the total of a key that leaves memory
	stats      Stats
	scratch    []byte
	saved      []*key // keys whose base the next flush stores (totals.go)
	// panes: a hopping aggregation kept as pane variants (Options.Panes), of
	// paneSize milliseconds; every window closing at or before closedAt has
	// been published.
	panes    bool
	paneSize int64
	closedAt int64
	wins     []window.Window // paneWindows' buffer
}

// key is one group key of an aggregation, its windows in memory and its running
// total of every valid event (late ones included).
type key struct {
	group   string
	windows window.Windows[*aggregate.Aggregate]
	// slotMem is where the windows' slots start: a tumbling key holds one or
	// two, so with many keys they are a cache miss fewer per event than an array
	// of their own (which they move to if they need more).
	slotMem [2]window.Slot[*aggregate.Aggregate]
	// total is nil until an event of the key needs it: a key restored with its
	// windows reads its total only when an event comes.
	total *aggregate.Aggregate
	last  int64 // latest event time of the key's events (with total)
	// base is, for a tumbling aggregation, what the store holds of the total
	// (nil while empty, or while only the store has it): the events not in a
	// window starting at or after folded (see totals.go).
	base    *aggregate.Aggregate
	baseOut bool // the base is only in the store (nil here): see Engine.toBase
	folded  int64
	saving  bool // in agg.saved
	dirty   bool
	// expiry is the stream time from which none of the key's windows is needed in
	// memory any more (the latest EvictTime), NoTime while it has none; expiryOf is
	// the window it was computed from.
	expiry   int64
	expiryOf window.Window
	held     bool // counted against max_keys (see keys.go)
	heapAt   int  // index in agg.expiries, -1 if not there
	// totalMem holds a total the key starts empty, next to the key in memory:
	// one cache miss fewer per event with many keys. Its sketch, for an
	// aggregation with quantiles, is the sketchKey's that holds the key.
	totalMem aggregate.Aggregate
}

// sketchKey is a key of an aggregation with quantiles and its total's sketch,
// in one allocation. A key of an aggregation without quantiles (status_5m of
// the default configuration, most of its keys) is a key alone: a sketch's
// header in every key made those keys 448 bytes instead of 288.
type sketchKey struct {
	key
	sketch sketch.Sketch
}

// Stats counts what happened to one aggregation's events since the engine started.
type Stats struct {
	Late       uint64 // events dropped from at least one closed window
	Overflowed uint64 // events counted under the overflow key
	Keys       int    // group keys in memory, the overflow key among them
	Windows    int    // windows in memory
	// LateMerges counts the parts Merge dropped from a window that had already
	// closed (see Merge): 0 unless a stage-1 watermark went backwards.
	LateMerges uint64
}

// New builds an engine for a validated configuration, without Options.
//
// Deprecated: use NewWithOptions with a LoadTotal, so that running totals leave
// memory with their keys.
func New(c *config.Config) *Engine { return NewWithOptions(c, Options{}) }

// NewWithOptions builds an engine for a validated configuration.
func NewWithOptions(c *config.Config, o Options) *Engine {
	e := &Engine{streamTime: NoTime, loadTotal: o.LoadTotal}
	e.add = func(a *aggregate.Aggregate) { a.Add(e.cur) }
	e.merge = func(a *aggregate.Aggregate) { a.Merge(e.part.Agg) }
	schema := *c.Sketch.Schema
	for i := range c.Aggregations {
		ac := &c.Aggregations[i]
		withSketch := len(ac.Quantiles) > 0
		a := &agg{
			index:      i,
			name:       ac.Name,
			spec:       ac.WindowSpec(),
			groups:     NewGroupKey(c, ac),
			maxKeys:    ac.MaxKeys,
			keys:       map[string]*key{},
			parked:     map[string]aggregate.Value{},
			keepTotals: o.LoadTotal == nil,
			nextClose:  math.MaxInt64,
			empty:      func() *aggregate.Aggregate { return aggregate.New(schema, withSketch) },
			schema:     schema,
			withSketch: withSketch,
			closedAt:   NoTime,
		}
		if o.Panes && a.spec.Kind == window.Hopping {
			a.panes, a.paneSize = true, a.spec.PaneSize()
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
// for aggregation i. Process keeps no reference to ev after it returns. Once Err is
// set, Process ignores every event.
func (e *Engine) Process(ev *event.Event) (late uint64) {
	if e.err != nil {
		return 0
	}
	t := ev.Time
	e.streamTime = max(e.streamTime, t)
	e.cur = ev
	for _, a := range e.aggs {
		k := a.lookup(ev, e.streamTime)
		if k.total == nil && !e.loadKeyTotal(a, k) {
			e.cur = nil
			return 0
		}
		k.total.Add(ev)
		k.last = max(k.last, t)
		dropped := k.windows.Add(&a.spec, t, e.streamTime, e.add, a.empty)
		if dropped {
			a.stats.Late++
			late |= 1 << a.index
		}
		if (dropped || t < k.folded) && a.deferred() {
			e.toBase(a, k, e.add)
		}
		if n := len(k.windows.Slots); n > 0 && k.windows.Slots[n-1].Window != k.expiryOf {
			a.windowsChanged(k) // new windows: rarely, except for sessions and sliding windows
		}
		if !k.dirty {
			k.dirty = true
			a.dirty = append(a.dirty, k)
		}
	}
	e.cur = nil
	return late
}

// Err is the first error of Options.LoadTotal, or nil. Once it is set, Process
// ignores events and Flush reports no change: the caller must not commit what it
// processed since the previous Flush, and must build a new engine from its store
// (a stream task aborts its transaction and reloads).
func (e *Engine) Err() error { return e.err }
