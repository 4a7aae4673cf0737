// Package rollup merges an aggregation's closed windows into its rollup
// windows: coarser, aligned windows (config's aggregations[].rollups) that each
// hold the exact merge of the windows in their span (counts add, sketches
// merge bucket by bucket). Stage 2 (package stream) calls Merge with the
// windows each transaction closes and writes what it returns in that same
// transaction; tests and benchmarks call it to build stores as stage 2 does.
//
// A rollup window holds only closed windows, each merged once: a window takes
// records, late ones within grace included, until it closes, and is never
// modified after. So a rollup window is final once its last window has closed,
// at its end + grace.
package rollup

import (
	"fmt"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// Level is one rollup resolution of one aggregation.
type Level struct {
	Agg   int    // the aggregation's index in the configuration
	Index int    // the rollup's index in the aggregation's rollups
	Name  string // the store name of its windows: store.RollupAgg
	Res   int64  // resolution, ms
}

// Merger merges closed windows into rollup windows for a validated
// configuration. It is not safe for concurrent use.
type Merger struct {
	levels  [][]Level // per aggregation
	schema  int32
	sketch  []bool // per aggregation: its windows carry a sketch
	pending map[string]*window
	keys    []string
	kb      []byte
}

type window struct {
	level Level
	key   store.Key
	v     aggregate.Value
}

// NewMerger returns the merger of c's rollups.
func NewMerger(c *config.Config) *Merger {
	m := &Merger{schema: *c.Sketch.Schema, pending: map[string]*window{}}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		var ls []Level
		for j, r := range a.Rollups {
			ls = append(ls, Level{Agg: i, Index: j, Name: store.RollupAgg(a.Name, r.Resolution.Millis()), Res: r.Resolution.Millis()})
		}
		m.levels = append(m.levels, ls)
		m.sketch = append(m.sketch, len(a.Quantiles) > 0)
	}
	return m
}

// Levels returns the rollup levels of aggregation agg, finest first.
func (m *Merger) Levels(agg int) []Level { return m.levels[agg] }

// Merge merges closed windows (final: engine.Flush's Closed) into the rollup
// windows that hold them. get reads a rollup window's stored value (what the
// last committed merge wrote); put receives each rollup window changed, once,
// in key order, with its encoded key and value, which it may keep. A
// window closing twice would count twice: the caller gives each closed window
// once, in the transaction that closes it.
func (m *Merger) Merge(closed []engine.Change, get func(store.Key) ([]byte, bool, error), put func(l Level, k store.Key, key, value []byte) error) error {
	m.Reset()
	for i := range closed {
		if err := m.Add(&closed[i], nil, get); err != nil {
			return err
		}
	}
	return m.Flush(put)
}

// Reset forgets the rollup windows of an unfinished Add/Flush.
func (m *Merger) Reset() {
	clear(m.pending)
	m.keys = m.keys[:0]
}

// Add merges one closed window into the rollup windows that hold it, of the
// levels only accepts (nil: all of them), reading each rollup window with get
// the first time it is met since the last Flush or Reset. Merge is Add for
// each window, then Flush. c is not kept.
func (m *Merger) Add(c *engine.Change, only func(Level) bool, get func(store.Key) ([]byte, bool, error)) error {
	if c.Agg >= len(m.levels) || c.Value.Agg == nil {
		return nil
	}
	for _, l := range m.levels[c.Agg] {
		if only != nil && !only(l) {
			continue
		}
		start := c.Start - floorMod(c.Start, l.Res)
		k := store.Key{Agg: l.Name, Group: []byte(c.Group), Start: start}
		m.kb = k.Append(m.kb[:0])
		w, ok := m.pending[string(m.kb)]
		if !ok {
			w = &window{level: l, key: k}
			if err := m.load(w, get); err != nil {
				return err
			}
			m.pending[string(m.kb)] = w
			m.keys = append(m.keys, string(m.kb))
		}
		w.v.Agg.Merge(c.Value.Agg)
		w.v.Last = max(w.v.Last, c.Value.Last)
	}
	return nil
}

// Flush hands the rollup windows changed since the last Flush or Reset to put
// (see Merge), and forgets them.
func (m *Merger) Flush(put func(l Level, k store.Key, key, value []byte) error) error {
	defer m.Reset()
	slices.Sort(m.keys)
	for _, key := range m.keys {
		w := m.pending[key]
		value, err := w.v.AppendBinary(nil)
		if err != nil {
			return fmt.Errorf("encoding a %s window: %w", w.key.Agg, err)
		}
		if err := put(w.level, w.key, []byte(key), value); err != nil {
			return err
		}
	}
	return nil
}

// load reads w's stored value, or starts it empty.
func (m *Merger) load(w *window, get func(store.Key) ([]byte, bool, error)) error {
	b, ok, err := get(w.key)
	if err != nil {
		return fmt.Errorf("reading a %s window: %w", w.key.Agg, err)
	}
	end := w.key.Start + w.level.Res
	if !ok {
		w.v = aggregate.Value{End: end, Last: engine.NoTime, Agg: aggregate.New(m.schema, m.sketch[w.level.Agg])}
		return nil
	}
	if err := w.v.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("decoding a %s window: %w", w.key.Agg, err)
	}
	if w.v.Agg == nil || w.v.End != end {
		return fmt.Errorf("a stored %s window at %d ends at %d, want %d", w.key.Agg, w.key.Start, w.v.End, end)
	}
	return nil
}

func floorMod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}
