package query

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// LatestQuery asks, per key, for the latest closed window and the windows still
// open, for live panels.
type LatestQuery struct {
	Aggregation string
	Filters     []Matcher
	// Since bounds the window starts read from below (unix ms); 0 reads every
	// window retained. A live panel gives a few windows before now: the scan
	// then reads only those.
	Since    int64
	Measures []Measure // checked like RangeQuery's; sketches only for quantiles
}

// LatestResult is the answer to a LatestQuery: every key has one owner, so
// answers of different partitions merge by concatenation (Merge).
type LatestResult struct {
	Aggregation string
	GroupBy     []string // the aggregation's whole group_by: one entry per key
	Keys        []LatestKey
	Partitions  []int32
}

// LatestKey is the latest windows of one key.
type LatestKey struct {
	Key       []string // values of LatestResult.GroupBy
	Partition int32    // the store that owns the key
	Closed    *Window  // the latest closed window (by start); nil if none was read
	Open      []Window // the open windows, ascending by start: partial results
}

// Window is one stored window.
type Window struct {
	Start, End int64
	Last       int64 // the latest event time in it
	Agg        *aggregate.Aggregate
	Partial    bool // still open: its result may change
}

// Value evaluates m on the window.
func (w *Window) Value(m Measure) float64 { return m.Eval(w.Agg, w.End-w.Start) }

// Latest answers q from the stores of srcs.
func (l *Local) Latest(ctx context.Context, srcs []Source, q LatestQuery) (*LatestResult, error) {
	a, err := l.aggregation(q.Aggregation)
	if err != nil {
		return nil, err
	}
	f, err := compileFilter(a, "filters", q.Filters)
	if err != nil {
		return nil, err
	}
	withSketch, err := compileMeasures(a, "measures", q.Measures)
	if err != nil {
		return nil, err
	}
	since := q.Since
	if since == 0 {
		since = math.MinInt64
	}
	r := &LatestResult{Aggregation: a.name, GroupBy: slices.Clone(a.groupBy), Partitions: partitions(srcs)}
	var dec windowDecoder
	for _, src := range srcs {
		var (
			group []byte
			cur   *LatestKey
			first = true
			ferr  error
			cc    = canceled{ctx: ctx}
			// closed is the latest closed window of cur read so far: only the
			// last one of a key is decoded, when the key's windows end (the
			// earlier ones are read as far as their end, which says they are
			// closed).
			closed struct {
				ok    bool
				start int64
				val   []byte
			}
		)
		decodeWindow := func(start int64, val []byte) (Window, error) {
			end, last, agg, sk, err := dec.decode(val, withSketch)
			if err == nil {
				agg, err = dec.newAggregate(agg, sk)
			}
			if err != nil {
				return Window{}, fmt.Errorf("query: partition %d, window %d: %w", src.Partition, start, err)
			}
			w := Window{Start: start, End: end, Last: last, Agg: agg}
			w.Partial = !a.spec.Closed(window.Window{Start: w.Start, End: w.End}, src.StreamTime)
			return w, nil
		}
		flush := func() error {
			if !closed.ok {
				return nil
			}
			closed.ok = false
			w, err := decodeWindow(closed.start, closed.val)
			if err != nil {
				return err
			}
			cur.Closed = &w
			return nil
		}
		visit := func(e store.Entry) bool {
			if cc.check() {
				return false
			}
			if e.Key.Start == maxStart {
				return true
			}
			if first || !bytes.Equal(e.Key.Group, group) {
				if ferr = flush(); ferr != nil {
					return false
				}
				first, cur = false, nil
				group = append(group[:0], e.Key.Group...)
				vals, err := store.SplitGroup(group)
				if err != nil {
					ferr = fmt.Errorf("query: stored group %x: %w", group, err)
					return false
				}
				if len(vals) != len(a.groupBy) || !f.match(vals) {
					return true
				}
				if len(r.Keys) >= l.limits.MaxKeys {
					ferr = &LimitError{Limit: limitKeys, Max: l.limits.MaxKeys, Need: len(r.Keys) + 1}
					return false
				}
				r.Keys = append(r.Keys, LatestKey{Key: keyStrings(group), Partition: src.Partition})
				cur = &r.Keys[len(r.Keys)-1]
			}
			if cur == nil {
				return true
			}
			end, _, _, _, err := dec.decode(e.Value, false)
			if err != nil {
				ferr = fmt.Errorf("query: partition %d, window %d: %w", src.Partition, e.Key.Start, err)
				return false
			}
			if a.spec.Closed(window.Window{Start: e.Key.Start, End: end}, src.StreamTime) {
				// Windows come in start order: the last closed one wins.
				closed.ok, closed.start, closed.val = true, e.Key.Start, append(closed.val[:0], e.Value...)
				return true
			}
			w, err := decodeWindow(e.Key.Start, e.Value)
			if err != nil {
				ferr = err
				return false
			}
			cur.Open = append(cur.Open, w)
			return true
		}
		serr := scanWindows(src, a, f.isExact, f.exact, since, maxStart, visit)
		if serr == nil && ferr == nil && cc.err == nil {
			ferr = flush()
		}
		switch {
		case serr != nil:
			return nil, fmt.Errorf("query: reading partition %d: %w", src.Partition, serr)
		case cc.err != nil:
			return nil, cc.err
		case ferr != nil:
			return nil, ferr
		}
	}
	r.sort()
	return r, nil
}

func (r *LatestResult) sort() {
	slices.SortFunc(r.Keys, func(x, y LatestKey) int { return slices.Compare(x.Key, y.Key) })
}

// Merge adds o, the answer to the same query from other partitions, to r. lim
// bounds the keys of the merged answer.
func (r *LatestResult) Merge(o *LatestResult, lim Limits) error {
	if err := disjoint(r.Partitions, o.Partitions); err != nil {
		return err
	}
	if n := len(r.Keys) + len(o.Keys); lim.MaxKeys > 0 && n > lim.MaxKeys {
		return &LimitError{Limit: limitKeys, Max: lim.MaxKeys, Need: n}
	}
	r.Keys = append(r.Keys, o.Keys...)
	r.Partitions = mergePartitions(r.Partitions, o.Partitions)
	r.sort()
	return nil
}
