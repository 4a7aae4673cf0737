package plugin

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// queryRange answers a range query with one wide time-series frame: a time
// field (the start of each step) and a number field per series and measure,
// labelled with the series' dimensions. That is the layout Grafana alerting
// reads. A live query whose points are single windows (per key) gets,
// instead, the layout Grafana's streaming frames append to (liveFrame), and
// the channel its panel subscribes to.
func (d *Datasource) queryRange(ctx context.Context, dq backend.DataQuery, q *Query) backend.DataResponse {
	agg, err := d.aggregation(ctx, q.Aggregation)
	if err != nil {
		return errorResponse(err)
	}
	var explicit time.Duration
	if q.Step != "" {
		explicit, _ = parseStep(q.Step) // checked by ParseQuery
	}
	sp := chooseSpan(agg.Window, explicit, dq.Interval, dq.TimeRange.From, dq.TimeRange.To, dq.MaxDataPoints)
	req := client.RangeRequest{Aggregation: q.Aggregation, Match: q.matchers(), GroupBy: q.GroupBy,
		Measures: q.Measures, From: sp.From, To: sp.To, Step: sp.Step, Stale: q.Stale}
	rec := &recorder{}
	var res *client.RangeResult
	failed, err := d.pool.Do(withRecorder(ctx, rec), func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.QueryRange(ctx, req)
		return err
	})
	if err != nil {
		return errorResponse(err)
	}
	if q.ClosedOnly {
		dropOpen(res)
	}
	var frame *data.Frame
	var notices []data.Notice
	if q.Live {
		if why := liveRefusal(agg, sp.Step); why != "" {
			notices = append(notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: "not live: " + why})
		} else {
			frame = liveFrame(res, q)
			frame.Meta.Channel = "ds/" + d.uid + "/" + streamPath(q, regroups(agg, q), sp.Step)
		}
	}
	if frame == nil {
		frame = wideFrame(res, q)
	}
	frame.RefID = dq.RefID
	frame.Meta.ExecutedQueryString = rec.last()
	frame.Meta.Custom = map[string]any{"step": client.Duration(res.Step).String(), "mergedWindows": res.MergedWindows,
		"instances": res.Instances, "partitions": len(res.Partitions)}
	frame.AppendNotices(append(notices, rangeNotices(res, failed)...)...)
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// wideFrame lays a range answer out wide: one time field with every step
// start that has a point in some series, and per series and measure a
// nullable number field (null: no window in that step, or no value).
func wideFrame(res *client.RangeResult, q *Query) *data.Frame {
	times := pointTimes(res)
	row := make(map[client.Timestamp]int, len(times))
	tf := make([]time.Time, len(times))
	for i, t := range times {
		row[t] = i
		tf[i] = t.Time()
	}
	timeField := data.NewField("time", nil, tf)
	timeField.Config = &data.FieldConfig{Interval: float64(time.Duration(res.Step).Milliseconds())}
	fields := data.Fields{timeField}
	for _, s := range res.Series {
		for _, m := range res.Measures {
			vals := make([]*float64, len(times))
			for _, p := range s.Points {
				vals[row[p.Start]] = valuePtr(p.Values[m])
			}
			f := data.NewField(m, fieldLabels(s.Labels), vals)
			f.Config = measureConfig(q, m, s.Labels)
			fields = append(fields, f)
		}
	}
	frame := data.NewFrame("", fields...)
	frame.SetMeta(&data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}})
	return frame
}

// dropOpen leaves out the points that hold a window still open, and the
// series left with no point.
func dropOpen(res *client.RangeResult) {
	series := res.Series[:0]
	for _, s := range res.Series {
		s.Points = slices.DeleteFunc(s.Points, func(p client.Point) bool { return p.Open > 0 })
		if len(s.Points) > 0 {
			series = append(series, s)
		}
	}
	res.Series = series
}

// pointTimes returns the distinct step starts of every series, ascending.
func pointTimes(res *client.RangeResult) []client.Timestamp {
	var ts []client.Timestamp
	for _, s := range res.Series {
		for _, p := range s.Points {
			ts = append(ts, p.Start)
		}
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// measureConfig is a measure field's unit and, with a legend format, its
// display name.
func measureConfig(q *Query, measure string, labels map[string]string) *data.FieldConfig {
	c := &data.FieldConfig{Unit: unitOf(measure)}
	if q.LegendFormat != "" {
		c.DisplayNameFromDS = legend(q.LegendFormat, labels, measure)
	}
	return c
}

// valuePtr is a value as a nullable field value: nil for no value (NaN).
func valuePtr(v client.Value) *float64 {
	f := float64(v)
	if math.IsNaN(f) {
		return nil
	}
	return &f
}

// rangeNotices say what a range answer says about itself: points that may
// still change (open windows, partitions not yet past a step's close),
// partitions read while restoring, instances failed over.
func rangeNotices(res *client.RangeResult, failed []Attempt) []data.Notice {
	var ns []data.Notice
	var points, open, notFinal int
	for _, s := range res.Series {
		for _, p := range s.Points {
			points++
			switch {
			case p.Open > 0:
				open++
			case !p.Complete:
				notFinal++
			}
		}
	}
	if open > 0 {
		ns = append(ns, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("last point still open: %d of %d points hold windows still open, whose values may still change", open, points)})
	}
	if notFinal > 0 {
		ns = append(ns, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("%d of %d points are not final: a partition has not yet passed their close time", notFinal, points)})
	}
	ns = append(ns, staleNotices(res.Stale)...)
	ns = append(ns, failoverNotices(failed)...)
	return ns
}

func staleNotices(stale []client.StalePartition) []data.Notice {
	if len(stale) == 0 {
		return nil
	}
	parts := make([]string, len(stale))
	for i, s := range stale {
		parts[i] = fmt.Sprintf("%d (%d records behind)", s.Partition, s.Behind)
	}
	return []data.Notice{{Severity: data.NoticeSeverityWarning,
		Text: "stale: partitions read while still restoring, values may be too low: " + strings.Join(parts, ", ")}}
}

func failoverNotices(failed []Attempt) []data.Notice {
	if len(failed) == 0 {
		return nil
	}
	parts := make([]string, len(failed))
	for i, a := range failed {
		parts[i] = fmt.Sprintf("%s: %v", a.URL, a.Err)
	}
	return []data.Notice{{Severity: data.NoticeSeverityInfo, Text: "failed over: " + strings.Join(parts, "; ")}}
}
