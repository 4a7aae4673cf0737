package config

import (
	"fmt"
	"slices"
	"strings"
)

// Dimension names become Prometheus label names, next to the labels kwindow and
// Prometheus add themselves; aggregation names become part of metric names, next
// to kwindow's own metrics. A name that collides with either would make metric
// registration fail at start or every scrape fail, so both are refused here.

// reservedLabels are the label names kwindow or Prometheus set beside the
// dimensions, with the reason a dimension cannot take them.
var reservedLabels = map[string]string{
	"class":    "kwindow adds the class label (client, server) to kwindow_<aggregation>_errors_total",
	"quantile": "Prometheus reserves the quantile label for summaries (promtool check metrics flags it on any other metric)",
	"le":       "kwindow adds the le label to histogram buckets",
	"measure":  "kwindow adds the measure label to kwindow_<aggregation>_anomaly_score",
	"aggregation": "kwindow's own metrics (kwindow_late_records_total and others) and alerts " +
		"use the aggregation label to name an aggregation",
	"instance": "Prometheus sets the instance label on every scraped series (the dimension would be renamed exported_instance, and the recording rules sum over instance)",
	"job":      "Prometheus sets the job label on every scraped series (the dimension would be renamed exported_job)",
}

// QuantileLabel is the label of the window quantile gauges,
// kwindow_<aggregation>_window_latency_seconds{q="0.99"}: not quantile, which
// Prometheus reserves for summaries, and those gauges are not a summary (their
// window's count and sum are no running totals). A dimension may take the name in
// an aggregation without quantiles.
const QuantileLabel = "q"

// checkLabelName says why name cannot be a dimension name, or "".
func checkLabelName(name string) string {
	switch {
	case !nameRE.MatchString(name):
		return fmt.Sprintf("%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", name)
	case strings.HasPrefix(name, "__"):
		return fmt.Sprintf("%q is reserved: label names starting with __ are Prometheus' own", name)
	case reservedLabels[name] != "":
		return fmt.Sprintf("%q is reserved: %s", name, reservedLabels[name])
	}
	return ""
}

// metricKind says which series names a family adds to its own.
type metricKind int

const (
	plain     metricKind = iota
	histogram            // _bucket, _count, _sum
)

type family struct {
	name string
	kind metricKind
}

// ValueFamily names the histogram of an aggregation's values, kwindow_A_<name>,
// by the values' unit: latency_seconds for durations (the events are converted to
// seconds), value for a unitless value (events.value.unit none). The window
// quantile gauges are kwindow_A_window_<name>.
func (c *Config) ValueFamily() string {
	if v := c.Events.Value; v != nil && v.Unit == "none" {
		return "value"
	}
	return "latency_seconds"
}

// aggregationFamilies are the metric families exported for an aggregation A, as
// kwindow_A_<name> (metrics.Collector), values named valueFamily.
func aggregationFamilies(valueFamily string) []family {
	return []family{
		{"requests_total", plain},
		{"errors_total", plain},
		{valueFamily, histogram},
		{"window_requests", plain},
		{"window_error_ratio", plain},
		{"window_" + valueFamily, plain},
		{"anomaly_score", plain},
	}
}

// selfFamilies are kwindow's own metric families, without the kwindow_ prefix:
// the runtime's (stream/metrics.go), the collector's (metrics/collector.go) and the
// build information (serve.go). TestSelfFamiliesInStep keeps the list in step with
// that code. (Their own _count, _sum and _bucket series cannot collide: no
// aggregation family name ends so.)
var selfFamilies = []string{
	"records_consumed_total",
	"records_processed_total",
	"invalid_records_total",
	"late_records_total",
	"overflow_records_total",
	"skipped_records_total",
	"truncated_copies_total",
	"repartition_records_total",
	"repartition_bytes_total",
	"late_merges_total",
	"changelog_records_total",
	"changelog_bytes_total",
	"commits_total",
	"aborted_transactions_total",
	"aborted_transactions_in_a_row",
	"commit_duration_seconds",
	"last_commit_timestamp_seconds",
	"restore_records_total",
	"restore_remaining_records",
	"stream_time_timestamp_seconds",
	"tasks",
	"consumer_lag",
	"store_keys",
	"store_live_bytes",
	"store_memory_bytes",
	"store_block_cache_bytes",
	"malloc_bytes",
	"window_freshness_seconds",
	"window_last_close_timestamp_seconds",
	"window_forced_total",
	"window_late_partials_total",
	"window_split_keys",
	"kafka_up",
	"build_info",
}

// kafkaPrefix names franz-go's client metrics (kprom), which vary with the
// client version: an aggregation cannot take a name that starts with it.
const kafkaPrefix = "kafka"

const metricPrefix = "kwindow_"

// series lists the names of the series of family f (histogram families add
// _bucket, _count and _sum).
func (f family) series(prefix string) []string {
	n := prefix + f.name
	if f.kind == histogram {
		return []string{n, n + "_bucket", n + "_count", n + "_sum"}
	}
	return []string{n}
}

// MetricFamilies are the names of the metric families kwindow may export for
// aggregation a (kwindow_<name>_requests_total, ...), whatever its measures:
// Parse refuses an aggregation name that makes one of them collide.
func (c *Config) MetricFamilies(a *Aggregation) []string {
	var out []string
	for _, f := range aggregationFamilies(c.ValueFamily()) {
		out = append(out, metricPrefix+a.Name+"_"+f.name)
	}
	return out
}

// validateMetricNames refuses aggregation names whose metrics would collide with
// kwindow's own or with another aggregation's: kwindow_x_window_latency_seconds
// is both aggregation x's window quantiles and aggregation x_window's histogram.
// It also refuses the quantile label as a dimension of an aggregation that
// exports quantiles.
func (c *Config) validateMetricNames(p *problems) {
	fams := aggregationFamilies(c.ValueFamily())
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		if len(a.Quantiles) == 0 {
			continue
		}
		if j := slices.Index(a.GroupBy, QuantileLabel); j >= 0 {
			p.add(fmt.Sprintf("aggregations[%d].group_by[%d]", i, j), "%q is reserved in an aggregation with quantiles: kwindow adds the %s label to %s%s_window_%s",
				QuantileLabel, QuantileLabel, metricPrefix, a.Name, c.ValueFamily())
		}
	}
	owner := map[string]string{}
	for _, f := range selfFamilies {
		owner[metricPrefix+f] = "kwindow's own metric " + metricPrefix + f
	}
	seen := map[string]bool{}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		path := fmt.Sprintf("aggregations[%d].name", i)
		if !nameRE.MatchString(a.Name) || seen[a.Name] {
			continue // reported already
		}
		seen[a.Name] = true
		if a.Name == kafkaPrefix || strings.HasPrefix(a.Name, kafkaPrefix+"_") {
			p.add(path, "%q is reserved: metric names starting with kwindow_kafka_ are franz-go's client metrics", a.Name)
			continue
		}
		prefix := metricPrefix + a.Name + "_"
		clash := ""
	families:
		for _, f := range fams {
			for _, s := range f.series(prefix) {
				if o, ok := owner[s]; ok && clash == "" {
					clash = fmt.Sprintf("%q would export %s, which is %s", a.Name, s, o)
					break families
				}
			}
		}
		if clash != "" {
			p.add(path, "%s", clash)
			continue
		}
		for _, f := range fams {
			for _, s := range f.series(prefix) {
				if _, ok := owner[s]; !ok {
					owner[s] = fmt.Sprintf("the metric %s of aggregation %q (aggregations[%d])", prefix+f.name, a.Name, i)
				}
			}
		}
	}
}

// maxTopicLength is the longest topic name Kafka accepts.
const maxTopicLength = 249
