package metrics

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/stream"
)

// Collector exposes a View as metric families named from the aggregations.
type Collector struct {
	v                       *View
	aggs                    []aggDescs
	lastClose, forced, late *prometheus.Desc
}

type aggDescs struct {
	requests, errors, latency, winRequests, winErrorRatio, winLatency, anomaly *prometheus.Desc
	// after says which of the labels kwindow adds sort after every dimension;
	// classFirst, that class sorts before every dimension.
	after      map[string]bool
	classFirst bool
	// measureOrder lists the anomaly measures by name.
	measureOrder []int
}

// NewCollector returns the collector of v; register it with the registry /metrics serves.
func NewCollector(v *View) *Collector {
	c := &Collector{v: v,
		lastClose: prometheus.NewDesc(stream.Namespace+"_window_last_close_timestamp_seconds",
			"Unix time at which a window of the aggregation last closed (committed) on this instance; the start time until one has.", []string{"aggregation"}, nil),
		forced: prometheus.NewDesc(stream.Namespace+"_window_forced_total",
			fmt.Sprintf("Windows exported in the window gauges and anomaly scores before every partition of this instance had closed them, because a key had more than %d closed windows waiting for a partition that lags behind.", maxPending), []string{"aggregation"}, nil),
		late: prometheus.NewDesc(stream.Namespace+"_window_late_partials_total",
			"Partial window results left out of the window gauges because they arrived after their window had been exported here (from a partition that joined this instance behind the others, or for a key dropped as idle); the counters include their events.", []string{"aggregation"}, nil),
	}
	for i := range v.cfg.Aggregations {
		a := &v.cfg.Aggregations[i]
		name := func(s string) string { return stream.Namespace + "_" + a.Name + "_" + s }
		dims := a.GroupBy
		with := func(extra ...string) []string { return append(append([]string{}, dims...), extra...) }
		d := aggDescs{
			requests: prometheus.NewDesc(name("requests_total"),
				"Events counted by "+a.Name+", per input partition (sum without(partition) for the key's total).", with("partition"), nil),
			winRequests: prometheus.NewDesc(name("window_requests"),
				"Events in the last closed "+a.Name+" window.", with(), nil),
		}
		if a.Has(config.Errors) {
			d.errors = prometheus.NewDesc(name("errors_total"),
				"Error events counted by "+a.Name+", by class (client: 4xx, server: 5xx by default), per input partition.", with("partition", "class"), nil)
		}
		if a.Has(config.ErrorRatio) {
			d.winErrorRatio = prometheus.NewDesc(name("window_error_ratio"),
				"Share of server errors (5xx) in the last closed "+a.Name+" window.", with(), nil)
		}
		if len(a.Quantiles) > 0 {
			d.latency = prometheus.NewDesc(name("latency_seconds"),
				"Distribution of the values (latencies, seconds) counted by "+a.Name+", per input partition: a native histogram.", with("partition"), nil)
			d.winLatency = prometheus.NewDesc(name("window_latency_seconds"),
				"Quantiles of the values in the last closed "+a.Name+" window, within the sketch's relative error (a summary of that window: _count and _sum are its own).", with(), nil)
		}
		if a.Anomaly != nil {
			d.anomaly = prometheus.NewDesc(name("anomaly_score"),
				"z-score of the last closed "+a.Name+" window against the key's exponentially weighted history, by measure.", with("measure"), nil)
		}
		d.after = v.aggs[i].layout.after
		d.classFirst = len(dims) == 0 || className < slices.Min(dims)
		for j := range v.aggs[i].measures {
			d.measureOrder = append(d.measureOrder, j)
		}
		ms := v.aggs[i].measures
		slices.SortStableFunc(d.measureOrder, func(x, y int) int { return strings.Compare(ms[x].name, ms[y].name) })
		c.aggs = append(c.aggs, d)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastClose
	ch <- c.forced
	ch <- c.late
	for _, d := range c.aggs {
		for _, desc := range []*prometheus.Desc{d.requests, d.errors, d.latency, d.winRequests, d.winErrorRatio, d.winLatency, d.anomaly} {
			if desc != nil {
				ch <- desc
			}
		}
	}
}

// Collect implements prometheus.Collector. It holds the view's lock only to copy
// the pointers to the keys' snapshots, and builds the series outside it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for i, s := range c.v.snapshot() {
		a := &c.v.cfg.Aggregations[i]
		ch <- prometheus.MustNewConstMetric(c.lastClose, prometheus.GaugeValue, float64(s.lastClose.UnixNano())/1e9, a.Name)
		ch <- prometheus.MustNewConstMetric(c.forced, prometheus.CounterValue, float64(s.forced), a.Name)
		ch <- prometheus.MustNewConstMetric(c.late, prometheus.CounterValue, float64(s.late), a.Name)
		c.collectAgg(ch, &c.aggs[i], &s)
	}
}

func (c *Collector) collectAgg(ch chan<- prometheus.Metric, d *aggDescs, s *aggSnapshot) {
	keys := s.keys
	slices.SortFunc(keys, func(a, b *keySnap) int { return cmpPairs(a.labels.pairs, b.labels.pairs) })
	totals := 0
	for _, k := range keys {
		totals += len(k.totals)
	}

	// Counters and histograms of the running totals, per partition.
	requests := newFamily[valueSeries](totals)
	for _, k := range keys {
		for _, t := range k.totals {
			requests.add().set(d.requests, t.labels.plain, t.count, false)
		}
	}
	requests.send(ch, d.after[partitionName])
	if d.errors != nil {
		// Class sorts before partition: class-major if it also sorts before
		// every dimension, else key-major.
		errors := newFamily[valueSeries](2 * totals)
		if d.classFirst {
			for _, k := range keys {
				for _, t := range k.totals {
					errors.add().set(d.errors, t.labels.client, t.client, false)
				}
			}
			for _, k := range keys {
				for _, t := range k.totals {
					errors.add().set(d.errors, t.labels.server, t.server, false)
				}
			}
		} else {
			for _, k := range keys {
				for _, t := range k.totals {
					errors.add().set(d.errors, t.labels.client, t.client, false)
				}
				for _, t := range k.totals {
					errors.add().set(d.errors, t.labels.server, t.server, false)
				}
			}
		}
		errors.send(ch, (d.classFirst || d.after[className]) && d.after[partitionName])
	}
	if d.latency != nil {
		latency := newFamily[histSeries](totals)
		for _, k := range keys {
			for _, t := range k.totals {
				if t.hasHist {
					h := latency.add()
					h.desc, h.labels = d.latency, t.labels.plain
					t.hist.fill(&h.h)
				}
			}
		}
		latency.send(ch, d.after[partitionName])
	}

	// The newest complete window of each key.
	windows := newFamily[valueSeries](len(keys))
	ratios := newFamily[valueSeries](len(keys))
	summaries := newFamily[summarySeries](len(keys))
	anomaly := newFamily[valueSeries](len(keys) * len(d.measureOrder))
	for _, k := range keys {
		w := k.latest
		if w == nil {
			continue
		}
		if s.missingCheck && w.start < s.newestStart {
			// No event in the newest window: a count of 0 shows a stop at once.
			windows.add().set(d.winRequests, k.labels.pairs, 0, true)
			continue
		}
		windows.add().set(d.winRequests, k.labels.pairs, w.count, true)
		if d.winErrorRatio != nil {
			// An active key with no errors exports 0, not nothing.
			ratios.add().set(d.winErrorRatio, k.labels.pairs, w.ratio, true)
		}
		if d.winLatency != nil && w.summary != nil {
			sm := summaries.add()
			sm.desc, sm.labels, sm.s = d.winLatency, k.labels.pairs, w.summary
		}
		for _, j := range d.measureOrder {
			if w.hasScore[j] {
				anomaly.add().set(d.anomaly, k.labels.measures[j], w.scores[j], true)
			}
		}
	}
	windows.send(ch, true)
	ratios.send(ch, true)
	summaries.send(ch, true)
	anomaly.send(ch, d.after[measureName])
}
