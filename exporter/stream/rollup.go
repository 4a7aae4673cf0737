package stream

import (
	"fmt"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/store"
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
//
// Each closed window costs one store read per resolution, cached for the
// transaction, so a rollup window is read and written once per commit interval
// however many of its windows close in it.

// rollup merges the windows that closed into their rollup windows, and adds
// their new values to the transaction: the store batch and the changelogs.
func (t *task) rollup(closed []engine.Change) error {
	if t.rt.rollups == nil {
		return nil
	}
	err := t.rt.rollups.Merge(closed, t.store.Get, func(l rollup.Level, k store.Key, key, value []byte) error {
		t.batch.Put(k, value)
		t.produceChangelog(t.rt.rollupLogs[l.Agg][l.Index], key, value)
		return nil
	})
	if err != nil {
		return fmt.Errorf("partition %d: %w", t.partition, err)
	}
	return nil
}
