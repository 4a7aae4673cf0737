// Package query answers interactive queries over the state stores of the
// stage-2 tasks an instance runs: range queries with filters, group-by, step and
// any measure, dimension values, the latest windows of each key, and top-k keys.
// It is the local core of the /api/v1 query API; the HTTP handlers, the fan-out
// to the other instances and the Go client are built on top of it.
//
// Two invariants make that possible:
//
//   - Answers merge. A point carries the merged aggregate of its windows (counts,
//     error counts, sum/min/max and, when a quantile is asked for, the latency
//     sketch), not only finished numbers, and every answer has a Merge that
//     combines the answers of other stores or instances exactly: counts add and
//     sketches merge bucket by bucket, so a P99 over an hour read from six
//     instances is the P99 of that hour within the sketch's relative error
//     (sketch.RelativeError). Measures are evaluated from the merged aggregate,
//     never averaged.
//   - Answers say what is final. Each group key lives in exactly one stage-2
//     task's store, and a window of it is complete once that task's stream time
//     has passed the window's close time (end + grace, see window.Spec.CloseTime).
//     The caller gives each store's stream time (Source.StreamTime); a point
//     counts the windows it merged and those still open, and is Complete only
//     when none was open and every store read had passed the close time of the
//     last window that could start in the point's interval, so no later commit
//     can change it.
//
// Running totals (stored at engine.TotalStart) are never returned as windows.
// A hopping aggregation's open windows are not stored whole but as panes
// (store.PaneAgg): queries read it through hopping, which assembles them, so
// they see its open windows as those of every other kind.
// Limits (Limits.MaxPoints, Limits.MaxKeys) are enforced while a store is read,
// before memory grows past them, and reported as a *LimitError naming the limit.
package query
