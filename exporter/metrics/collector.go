package metrics

import (
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/stream"
)

// Collector exposes a View as metric families named from the aggregations.
type Collector struct {
	v         *View
	schema    int32
	aggs      []aggDescs
	lastClose *prometheus.Desc
}

type aggDescs struct {
	requests, errors, latency, winRequests, winErrorRatio, winLatency, anomaly *prometheus.Desc
}

// NewCollector returns the collector of v; register it with the registry /metrics serves.
func NewCollector(v *View) *Collector {
	c := &Collector{v: v, schema: *v.cfg.Metrics.HistogramSchema,
		lastClose: prometheus.NewDesc(stream.Namespace+"_window_last_close_timestamp_seconds",
			"Unix time at which a window of the aggregation last closed (committed) on this instance; the start time until one has.", []string{"aggregation"}, nil)}
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
		c.aggs = append(c.aggs, d)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastClose
	for _, d := range c.aggs {
		for _, desc := range []*prometheus.Desc{d.requests, d.errors, d.latency, d.winRequests, d.winErrorRatio, d.winLatency, d.anomaly} {
			if desc != nil {
				ch <- desc
			}
		}
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	v := c.v
	v.mu.Lock()
	defer v.mu.Unlock()
	low := v.lowStreamTime()
	for i, av := range v.aggs {
		d := &c.aggs[i]
		ch <- prometheus.MustNewConstMetric(c.lastClose, prometheus.GaugeValue, float64(av.lastClose.UnixNano())/1e9, av.cfg.Name)
		for _, k := range av.keys {
			if v.idle(av, k) {
				continue
			}
			for p, t := range k.totals {
				part := strconv.Itoa(int(p))
				ch <- prometheus.MustNewConstMetric(d.requests, prometheus.CounterValue, float64(t.Count), append(k.vals, part)...)
				if d.errors != nil {
					ch <- prometheus.MustNewConstMetric(d.errors, prometheus.CounterValue, float64(t.ClientErrors), append(k.vals, part, "client")...)
					ch <- prometheus.MustNewConstMetric(d.errors, prometheus.CounterValue, float64(t.ServerErrors), append(k.vals, part, "server")...)
				}
				if d.latency != nil && t.Sketch != nil {
					if m, err := c.histogram(d.latency, t, append(k.vals, part)); err == nil {
						ch <- m
					} else {
						ch <- prometheus.NewInvalidMetric(d.latency, err)
					}
				}
			}
			if k.win == nil {
				continue
			}
			if av.missing(k, low) {
				// No event in the newest window: a count of 0 shows a stop at once.
				ch <- prometheus.MustNewConstMetric(d.winRequests, prometheus.GaugeValue, 0, k.vals...)
				continue
			}
			w := k.win
			ch <- prometheus.MustNewConstMetric(d.winRequests, prometheus.GaugeValue, float64(w.Count), k.vals...)
			if d.winErrorRatio != nil {
				// An active key with no errors exports 0, not nothing.
				ch <- prometheus.MustNewConstMetric(d.winErrorRatio, prometheus.GaugeValue, zeroIfNaN(w.ErrorRatio()), k.vals...)
			}
			if d.winLatency != nil && w.Values > 0 {
				qs := make(map[float64]float64, len(av.cfg.Quantiles))
				for _, q := range av.cfg.Quantiles {
					qs[q] = w.Quantile(q)
				}
				ch <- prometheus.MustNewConstSummary(d.winLatency, w.Values, w.Sum, qs, k.vals...)
			}
			for j, m := range av.measures {
				if e := k.anomaly[j]; e.hasScore {
					ch <- prometheus.MustNewConstMetric(d.anomaly, prometheus.GaugeValue, clampScore(e.score), append(k.vals, m.name)...)
				}
			}
		}
	}
}

// histogram exports a running total's sketch as a native histogram, downscaled to
// the configured schema (exact: buckets merge pairwise).
func (c *Collector) histogram(desc *prometheus.Desc, t *aggregate.Aggregate, labels []string) (prometheus.Metric, error) {
	s := t.Sketch
	if s.Schema() > c.schema {
		s = s.Clone()
		s.Downscale(c.schema)
	}
	pos, neg := s.NativeBuckets()
	return prometheus.NewConstNativeHistogram(desc, s.Count(), s.Sum(), pos, neg, s.ZeroCount(), s.Schema(),
		sketch.ZeroThreshold, time.Time{}, labels...)
}

func zeroIfNaN(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

// clampScore keeps the score of a broken flat history finite but extreme.
func clampScore(x float64) float64 { return math.Max(-1e6, math.Min(1e6, x)) }
