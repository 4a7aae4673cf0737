// Package metrics is kwindow's /metrics: a View of the committed window results,
// and a prometheus.Collector that turns it into metric families at scrape time.
//
// The View is the runtime's stream.Sink, so it only ever sees committed state.
// Nothing on the per-event path touches client_golang: the View changes once per
// committed transaction, and Collect builds the series from it.
//
// Families, per aggregation A with group-by dimensions as labels:
//
//	kwindow_A_requests_total{dims,partition}         counter: events of the key
//	kwindow_A_errors_total{dims,partition,class}     counter: client/server errors
//	kwindow_A_latency_seconds{dims,partition}        histogram of the values: native and classic buckets
//	kwindow_A_window_requests{dims}                  gauge: last complete window's count
//	kwindow_A_window_error_ratio{dims}               gauge: its 5xx ratio
//	kwindow_A_window_latency_seconds{dims,q}         gauge: its quantiles
//	kwindow_A_anomaly_score{dims,measure}            gauge: its z-scores
//
// and per aggregation kwindow_window_last_close_timestamp_seconds (absent until
// a window has closed), kwindow_window_forced_total and
// kwindow_window_late_partials_total. With unitless values (events.value.unit
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
// Counters carry the input partition: a partition's running totals move with it
// between instances (through its changelog), so a per-partition series never goes
// backwards; sum without(partition) gives a key's total. Window gauges merge the
// partial results of the partitions this instance owns, and show a window only
// once it is complete here: every local partition has closed it (see windows.go).
// Keys with no event for metrics.idle_windows windows are dropped from the View,
// so its memory follows the active keys.
//
// Scrapes never hold back processing: the Sink methods publish an immutable
// snapshot per changed key, and Collect copies the pointers to them under the
// View's lock and builds the series outside it (see View).
package metrics
