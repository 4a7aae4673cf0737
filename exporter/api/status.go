package api

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/sketch"
)

func serveStatus(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	ctx, cancel := h.queryContext(r)
	defer cancel()
	st, err := h.b.Status(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := &client.Status{Instance: st.Instance, InstanceID: st.InstanceID, Version: h.o.Version, Ready: st.Ready,
		Reason: st.Reason, Partitions: st.Partitions, Members: make([]client.Member, 0, len(st.Members)),
		StreamTimes: make([]client.PartitionTime, 0, len(st.StreamTimes))}
	for _, m := range st.Members {
		out.Members = append(out.Members, client.Member{URL: m.URL, InstanceID: m.InstanceID,
			Partitions: nonNil(m.Partitions), Restoring: nonNil(m.Restoring)})
	}
	for _, part := range slices.Sorted(maps.Keys(st.StreamTimes)) {
		out.StreamTimes = append(out.StreamTimes, client.PartitionTime{Partition: part, StreamTime: streamTime(st.StreamTimes[part])})
	}
	ok(w, out)
}

func serveAggregations(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	st, found := h.status(w, r)
	if !found {
		return
	}
	out := make([]client.Aggregation, 0, len(h.o.Config.Aggregations))
	for i := range h.o.Config.Aggregations {
		out = append(out, h.describe(&h.o.Config.Aggregations[i], st))
	}
	ok(w, out)
}

var aggregationParams = []param{{name: "name", in: "path", required: true, example: "req_1m", desc: "The aggregation."}}

func serveAggregation(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	name := p.path("name")
	a := h.aggs[name]
	if a == nil {
		writeErr(w, http.StatusNotFound, &errorInfo{Code: codeNotFound, Message: "no aggregation " + strconv.Quote(name) + "; have " + h.aggNames()})
		return
	}
	st, found := h.status(w, r)
	if !found {
		return
	}
	ok(w, h.describe(a, st))
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) (*Status, bool) {
	ctx, cancel := h.queryContext(r)
	defer cancel()
	st, err := h.b.Status(ctx)
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	return &st, true
}

// describe says what aggregation a can answer. Its measures mirror the checks
// of the query engine (query.Measure's check): error measures need a status
// field, value statistics need values kept, quantiles need a sketch.
func (h *handler) describe(a *config.Aggregation, st *Status) client.Aggregation {
	c := h.o.Config
	out := client.Aggregation{
		Name: a.Name,
		Window: client.WindowSpec{Type: a.Window.Type, Size: client.Duration(a.Window.Size), Advance: client.Duration(a.Window.Advance),
			Gap: client.Duration(a.Window.Gap), Grace: client.Duration(a.Grace)},
		GroupBy:   nonNil(a.GroupBy),
		Measures:  []string{"count", "rate"},
		Quantiles: nonNil(a.Quantiles),
		Retention: client.Duration(a.Retention),
	}
	if c.Events != nil && c.Events.Status != nil {
		out.Measures = append(out.Measures, "client_errors", "server_errors", "errors", "error_ratio", "client_error_ratio")
	}
	if a.NeedsValue() {
		out.Measures = append(out.Measures, "sum", "min", "max", "avg")
	}
	if len(a.Quantiles) > 0 {
		for _, q := range a.Quantiles {
			out.Measures = append(out.Measures, percentile(q))
		}
		schema := int32(sketch.DefaultSchema)
		if c.Sketch.Schema != nil {
			schema = *c.Sketch.Schema
		}
		re := sketch.RelativeError(schema)
		out.SketchRelativeError, out.AnyQuantile = &re, true
	}
	retention := a.Retention
	out.Rollups = []client.Rollup{}
	for _, r := range a.Rollups {
		out.Rollups = append(out.Rollups, client.Rollup{Resolution: client.Duration(r.Resolution), Retention: client.Duration(r.Retention)})
		retention = max(retention, r.Retention)
	}
	out.TimeRange = timeRange(st, time.Duration(retention).Milliseconds())
	return out
}

// percentile names quantile q as a pNN measure: 0.99 is p99, 0.999 p99.9.
func percentile(q float64) string {
	return "p" + strconv.FormatFloat(math.Round(q*100*1e9)/1e9, 'f', -1, 64)
}

// timeRange is the window starts held: from the least stream time minus
// retention to the greatest stream time, over the partitions this instance
// owns (the only stream times Status has); nil when none has seen an event.
func timeRange(st *Status, retention int64) *client.TimeRange {
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, t := range st.StreamTimes {
		if t < minTime || t > maxTime {
			continue
		}
		lo, hi = min(lo, t), max(hi, t)
	}
	if lo > hi {
		return nil
	}
	return &client.TimeRange{From: client.Timestamp(max(lo-retention, minTime)), To: client.Timestamp(hi), Basis: "local"}
}
