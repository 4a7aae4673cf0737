package metrics

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/stream"
)

// Collector exposes a View as metric families named from the aggregations.
type Collector struct {
	v                              *View
	aggs                           []aggDescs
	lastClose, forced, late, split *prometheus.Desc
}

type aggDescs struct {
	requests, errors, latency, winRequests, winErrorRatio, winLatency, anomaly *prometheus.Desc
	// after says which of the labels kwindow adds sort after every dimension;
	// classFirst, that class sorts before every dimension.
	after      map[string]bool
	classFirst bool
	// measureOrder lists the anomaly measures by name.
	measureOrder []int
	quantiles    int     // window quantiles per key
	at           extraAt // where the keys' label pairs with a quantile or a measure start
}

// NewCollector returns the collector of v; register it with the registry /metrics serves.
func NewCollector(v *View) *Collector {
	c := &Collector{v: v,
		lastClose: prometheus.NewDesc(stream.Namespace+"_window_last_close_timestamp_seconds",
			"Unix time at which a window of the aggregation last closed (committed) on this instance; absent until one has.", []string{"aggregation"}, nil),
		forced: prometheus.NewDesc(stream.Namespace+"_window_forced_total",
			fmt.Sprintf("Windows exported in the window gauges and anomaly scores before every stage-2 partition of this instance had closed them, because a key had more than %d closed windows waiting for a partition that lags behind.", maxPending), []string{"aggregation"}, nil),
		late: prometheus.NewDesc(stream.Namespace+"_window_late_partials_total",
			"Window results left out of the window gauges because they arrived after their window had been exported here (for a key dropped as idle, or a key reported by two partitions); the counters include their events.", []string{"aggregation"}, nil),
		split: prometheus.NewDesc(stream.Namespace+"_window_split_keys",
			"Group keys that more than one stage-2 partition of this instance reports, their series summing them; 0 unless keys are not routed to one partition each.", []string{"aggregation"}, nil),
	}
	value := v.cfg.ValueFamily()
	what := "values (unitless)"
	if value == "latency_seconds" {
		what = "latencies in seconds"
	}
	classic := ""
	if len(v.classic) > 0 {
		classic = fmt.Sprintf(" and classic buckets (le) filled from the sketch's: a sketch bucket that straddles a bound counts in the bucket above it,"+
			" so the count at le=b is the exact count at a bound lowered by less than %.3g %% (between the exact counts at b/%.6g and at b)",
			100*(sketchBase(v.cfg)-1), sketchBase(v.cfg))
	}
	for i := range v.cfg.Aggregations {
		a := &v.cfg.Aggregations[i]
		name := func(s string) string { return stream.Namespace + "_" + a.Name + "_" + s }
		dims := a.GroupBy
		with := func(extra ...string) []string { return append(append([]string{}, dims...), extra...) }
		d := aggDescs{
			requests: prometheus.NewDesc(name("requests_total"),
				"Events counted by "+a.Name+": the key's running total, exported by the instance that owns the key's partition.", with(), nil),
			winRequests: prometheus.NewDesc(name("window_requests"),
				"Events in the last closed "+a.Name+" window.", with(), nil),
		}
		if a.Has(config.Errors) {
			d.errors = prometheus.NewDesc(name("errors_total"),
				"Error events counted by "+a.Name+", by class (client: 4xx, server: 5xx by default).", with("class"), nil)
		}
		if a.Has(config.ErrorRatio) {
			d.winErrorRatio = prometheus.NewDesc(name("window_error_ratio"),
				"Share of server errors (5xx) in the last closed "+a.Name+" window.", with(), nil)
		}
		if len(a.Quantiles) > 0 {
			d.latency = prometheus.NewDesc(name(value),
				fmt.Sprintf("Distribution of the %s counted by %s: native buckets (schema %d)%s.", what, a.Name, v.schema, classic),
				with(), nil)
			d.winLatency = prometheus.NewDesc(name("window_"+value),
				fmt.Sprintf("Quantiles (label %s) of the %s in the last closed %s window, within the sketch's relative error of %.3g %%.",
					config.QuantileLabel, what, a.Name, 100*sketch.RelativeError(*v.cfg.Sketch.Schema)), with(config.QuantileLabel), nil)
		}
		if a.Anomaly != nil {
			d.anomaly = prometheus.NewDesc(name("anomaly_score"),
				"z-score of the last closed "+a.Name+" window against the key's exponentially weighted history, by measure.", with("measure"), nil)
		}
		d.after = v.aggs[i].layout.after
		d.quantiles = len(v.aggs[i].quantiles)
		d.at = v.aggs[i].at
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

// sketchBase is the ratio of consecutive bucket bounds of the configured
// sketch, 2^(2^-schema).
func sketchBase(cfg *config.Config) float64 {
	return math.Exp2(math.Exp2(-float64(*cfg.Sketch.Schema)))
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastClose
	ch <- c.forced
	ch <- c.late
	ch <- c.split
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
		if !s.lastClose.IsZero() {
			// Absent until a window closes: a start time would read as a close.
			ch <- prometheus.MustNewConstMetric(c.lastClose, prometheus.GaugeValue, float64(s.lastClose.UnixNano())/1e9, a.Name)
		}
		ch <- prometheus.MustNewConstMetric(c.forced, prometheus.CounterValue, float64(s.forced), a.Name)
		ch <- prometheus.MustNewConstMetric(c.late, prometheus.CounterValue, float64(s.late), a.Name)
		ch <- prometheus.MustNewConstMetric(c.split, prometheus.GaugeValue, float64(s.split), a.Name)
		c.collectAgg(ch, &c.aggs[i], &s)
	}
}

func (c *Collector) collectAgg(ch chan<- prometheus.Metric, d *aggDescs, s *aggSnapshot) {
	keys := s.keys
	slices.SortFunc(keys, func(a, b keySnap) int { return cmpPairs(a.labels.pairs, b.labels.pairs) })
	totals := 0
	for _, k := range keys {
		if k.total != nil {
			totals++
		}
	}

	// Counters and histograms of the running totals: one series per key.
	requests := newFamily[valueSeries](totals)
	for _, k := range keys {
		if t := k.total; t != nil {
			requests.add().set(d.requests, k.labels.pairs, t.count, false)
		}
	}
	requests.send(ch, true)
	if d.errors != nil {
		// Class-major if class sorts before every dimension, else key-major.
		errors := newFamily[valueSeries](2 * totals)
		if d.classFirst {
			for _, k := range keys {
				if t := k.total; t != nil {
					errors.add().set(d.errors, k.labels.client(), t.client, false)
				}
			}
			for _, k := range keys {
				if t := k.total; t != nil {
					errors.add().set(d.errors, k.labels.server(), t.server, false)
				}
			}
		} else {
			for _, k := range keys {
				if t := k.total; t != nil {
					errors.add().set(d.errors, k.labels.client(), t.client, false)
					errors.add().set(d.errors, k.labels.server(), t.server, false)
				}
			}
		}
		errors.send(ch, d.classFirst || d.after[className])
	}
	if d.latency != nil {
		latency := newFamily[histSeries](totals)
		nc := len(c.v.classic)
		buckets, ptrs := make([]dto.Bucket, nc*totals), make([]*dto.Bucket, nc*totals)
		for _, k := range keys {
			if t := k.total; t != nil && t.hist != nil {
				h := latency.add()
				h.desc, h.labels = d.latency, k.labels.pairs
				t.hist.fill(&h.h)
				if len(t.hist.classic) == nc && nc > 0 {
					t.hist.fillClassic(&h.h, c.v.classic, buckets[:nc], ptrs[:nc])
					buckets, ptrs = buckets[nc:], ptrs[nc:]
				}
			}
		}
		latency.send(ch, true)
	}

	// The newest complete window of each key.
	windows := newFamily[valueSeries](len(keys))
	ratios := newFamily[valueSeries](len(keys))
	quantiles := newFamily[valueSeries](len(keys) * d.quantiles)
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
		x := w.extra
		if x == nil {
			continue
		}
		if d.winLatency != nil {
			for j, q := range x.quantiles {
				quantiles.add().set(d.winLatency, k.labels.quantile(d.at, j), q, true)
			}
		}
		for _, j := range d.measureOrder {
			if x.hasScore[j] {
				anomaly.add().set(d.anomaly, k.labels.measure(d.at, j), x.scores[j], true)
			}
		}
	}
	windows.send(ch, true)
	ratios.send(ch, true)
	quantiles.send(ch, d.after[quantileName])
	anomaly.send(ch, d.after[measureName])
}
