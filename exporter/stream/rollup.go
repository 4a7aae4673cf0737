package stream

import (
	"fmt"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// Rollups. When a window of an aggregation with rollups closes, stage 2 merges
// its final aggregate into the rollup window of each resolution that holds it
// (counts add, sketches merge bucket by bucket: exact), in the transaction that
// publishes the window's result. So:
//
//   - Exactly once. The rollup windows' new values go to the store batch and to
//     their changelogs in the same transaction as the input offsets and the
//     result: an aborted transaction leaves the store as it was (the task
//     reloads, and the window closes again), and one that commits but whose
//     store write a crash loses comes back whole from the changelogs, which
//     hold values, not increments. No window is merged twice or lost.
//   - Late data within grace is merged exactly once, with its window: a window
//     takes records until it closes (end + grace) and is merged only then, and
//     a closed window is never modified again (later records are late and go
//     to no window, as for the aggregation itself).
//   - A rollup window is final once all its windows are: when stream time
//     reaches its end + grace, the close time of its last window. Before that
//     it holds the windows closed so far (queries use only final ones).
//
// Each closed window costs one store read per resolution, cached for the
// transaction, so a rollup window is read and written once per commit
// interval however many of its windows close in it.

// rollupWindow is a rollup window the current transaction changes.
type rollupWindow struct {
	log int       // its changelog, an index in Runtime.changelogs
	key store.Key // Agg is store.RollupAgg
	v   aggregate.Value
}

// rollup merges the windows that closed into their rollup windows, and adds
// their new values to the transaction: the store batch and the changelogs.
func (t *task) rollup(closed []engine.Change) error {
	rt := t.rt
	pending := map[string]*rollupWindow{}
	var kb []byte
	for i := range closed {
		c := &closed[i]
		logs := rt.rollupLogs[c.Agg]
		if len(logs) == 0 || c.Value.Agg == nil {
			continue
		}
		a := &rt.cfg.Aggregations[c.Agg]
		for j, r := range a.Rollups {
			res := r.Resolution.Millis()
			start := c.Start - floorMod(c.Start, res)
			k := store.Key{Agg: rt.logNames[logs[j]], Group: []byte(c.Group), Start: start}
			kb = k.Append(kb[:0])
			w, ok := pending[string(kb)]
			if !ok {
				w = &rollupWindow{log: logs[j], key: k}
				if err := t.loadRollup(w, res, len(a.Quantiles) > 0); err != nil {
					return err
				}
				pending[string(kb)] = w
			}
			w.v.Agg.Merge(c.Value.Agg)
			w.v.Last = max(w.v.Last, c.Value.Last)
		}
	}
	// In key order, so that a transaction's records do not depend on map order.
	keys := make([]string, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w := pending[k]
		value, err := w.v.AppendBinary(nil)
		if err != nil {
			t.s.failProduce(fmt.Errorf("encoding %s window: %w", w.key.Agg, err))
			continue
		}
		t.batch.Put(w.key, value)
		t.produceChangelog(w.log, []byte(k), value)
	}
	return nil
}

// loadRollup reads w's committed value from the store, or starts it empty.
func (t *task) loadRollup(w *rollupWindow, res int64, withSketch bool) error {
	b, ok, err := t.store.Get(w.key)
	if err != nil {
		return fmt.Errorf("partition %d: reading a %s window: %w", t.partition, w.key.Agg, err)
	}
	if !ok {
		w.v = aggregate.Value{End: w.key.Start + res, Last: engine.NoTime, Agg: aggregate.New(*t.rt.cfg.Sketch.Schema, withSketch)}
		return nil
	}
	if err := w.v.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("partition %d: decoding a %s window: %w", t.partition, w.key.Agg, err)
	}
	if w.v.Agg == nil || w.v.End != w.key.Start+res {
		return fmt.Errorf("partition %d: a %s window at %d ends at %d, want %d", t.partition, w.key.Agg, w.key.Start, w.v.End, w.key.Start+res)
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
