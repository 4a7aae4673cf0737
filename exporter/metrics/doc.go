// Package metrics is kwindow's /metrics: a View of the committed window results,
// and a prometheus.Collector that turns it into metric families at scrape time.
//
// The View is the runtime's stream.Sink, so it only ever sees committed state.
// Nothing on the per-event path touches client_golang: the View changes once per
// committed transaction, and Collect builds the series from it.
//
// Families, per aggregation A with group-by dimensions as labels:
//
//	kwindow_A_requests_total{dims}                   counter: events of the key
//	kwindow_A_errors_total{dims,class}               counter: client/server errors
//	kwindow_A_latency_seconds{dims}                  histogram of the values: native and classic buckets
//	kwindow_A_window_requests{dims}                  gauge: last complete window's count
//	kwindow_A_window_error_ratio{dims}               gauge: its 5xx ratio
//	kwindow_A_window_latency_seconds{dims,q}         gauge: its quantiles
//	kwindow_A_anomaly_score{dims,measure}            gauge: its z-scores
//
// and per aggregation kwindow_window_last_close_timestamp_seconds (absent until
// a window has closed), kwindow_window_forced_total,
// kwindow_window_late_partials_total and kwindow_window_split_keys. With unitless values (events.value.unit
// none), the two value families are kwindow_A_value and kwindow_A_window_value:
// _seconds only names durations (config.ValueFamily).
//
// The window quantiles are gauges, not a summary: a summary's _count and _sum are
// running totals, and a window's are not. Their label is q, since Prometheus
// reserves quantile for summaries. The histogram's classic buckets
// (metrics.classic_buckets), for a Prometheus without native histograms, come
// from the full-resolution sketch by sketch.ClassicCounts: a sketch bucket that
// straddles a bound counts above it, so the count at le=b lies between the exact
// counts at b/base and b (base 2^(2^-schema): 1.09 % at sketch schema 6).
//
// The View is fed by the stage-2 tasks, and every group key belongs to exactly
// one stage-2 partition (a fixed hash of the key), whose running total and
// closed windows are complete: one series per key, with no partition label, so
// the series per scrape follow the keys, not the partitions. A key's counters
// move with its partition between instances (the running total is in the
// changelog), so they never go backwards; when a partition leaves (Inactive), its
// keys leave the View at once, and no instance exports a key twice. Should a key
// ever be reported by two partitions, its series sum them and
// kwindow_window_split_keys counts it.
//
// The window gauges show a window once it is complete here: every local
// partition has closed it (their stream times differ slightly; see windows.go),
// so the keys of an instance change window together. Keys with no event for
// metrics.idle_windows windows are dropped from the View, so its memory follows
// the active keys.
//
// Scrapes never hold back processing: the Sink methods publish a snapshot of
// immutable values per changed key, and Collect copies the snapshots under the
// View's lock and builds the series outside it (see View).
package metrics
