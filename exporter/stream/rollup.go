package stream

import (
	"fmt"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// Rollups. When a window of an aggregation with rollups closes, stage 2 merges
// its final aggregate into the rollup window of each resolution that holds it
// (package rollup), in the transaction that publishes the window's result:
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
//   - A rollup added to a running aggregation starts complete. Its changelog
//     has no offset in the task's checkpoint until a transaction writes to it,
//     and every transaction that closes a window writes to it: so a task that
//     finds none knows no window was merged into that rollup, and its first
//     transaction merges every closed window the store still holds (backfill)
//     along with the ones it closes itself.
//
// Each closed window costs one store read per resolution, cached for the
// transaction, so a rollup window is read and written once per commit interval
// however many of its windows close in it.

// backfillFrom marks, per rollup changelog, the rollups whose checkpoint has no
// offset: see above. It runs when the task loads.
func (t *task) backfillFrom(cp store.Checkpoint, streamTime int64) {
	t.backfill, t.backfillAt = nil, streamTime
	for _, logs := range t.rt.rollupLogs {
		for _, li := range logs {
			if _, ok := cp.ChangelogOffsets[t.rt.logNames[li]]; !ok {
				t.backfill = append(t.backfill, t.rt.logNames[li])
			}
		}
	}
}

// rollup merges the windows that closed into their rollup windows, after the
// backfill of any new rollup, and adds their new values to the transaction:
// the store batch and the changelogs.
func (t *task) rollup(m *rollup.Merger, closed []engine.Change) error {
	if m == nil {
		return nil
	}
	m.Reset()
	if len(t.backfill) > 0 {
		if err := t.backfillRollups(m); err != nil {
			return fmt.Errorf("partition %d: filling new rollups: %w", t.partition, err)
		}
		t.backfill = nil
	}
	for i := range closed {
		if err := m.Add(&closed[i], nil, t.store.Get); err != nil {
			return fmt.Errorf("partition %d: %w", t.partition, err)
		}
	}
	err := m.Flush(func(l rollup.Level, k store.Key, key, value []byte) error {
		t.batch.Put(k, value)
		t.produceChangelog(t.rt.rollupLogs[l.Agg][l.Index], key, value)
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition %d: %w", t.partition, err)
	}
	return nil
}

// backfillRollups adds to m, for the rollups in t.backfill only, every window
// in the store that had closed when the task loaded: the windows closing since
// then are in the engine's Flush.Closed.
func (t *task) backfillRollups(m *rollup.Merger) error {
	only := func(l rollup.Level) bool { return slices.Contains(t.backfill, l.Name) }
	for i := range t.rt.cfg.Aggregations {
		a := &t.rt.cfg.Aggregations[i]
		if !slices.ContainsFunc(m.Levels(i), only) {
			continue
		}
		spec := a.WindowSpec()
		var err error
		serr := t.store.Windows(a.Name, math.MinInt64, engine.TotalStart, func(e store.Entry) bool {
			var v aggregate.Value
			if err = v.UnmarshalBinary(e.Value); err != nil {
				return false
			}
			if !spec.Closed(window.Window{Start: e.Key.Start, End: v.End}, t.backfillAt) {
				return true
			}
			err = m.Add(&engine.Change{Agg: i, Group: string(e.Key.Group), Start: e.Key.Start, Value: v}, only, t.store.Get)
			return err == nil
		})
		if serr != nil {
			return serr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
