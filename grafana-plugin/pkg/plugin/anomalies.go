package plugin

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// Anomalies.
//
// A window of a series is an anomaly when, for one of the measures rate,
// error_ratio and p99 (those the aggregation has), its z-score passes the
// query's threshold: z = (x − μ) / σ, where μ and σ are the mean and the
// standard deviation (population) of the same measure over the previous
// historyWindows windows of the same series. Windows without a value (no
// events, a ratio over none) are left out of the history; a history of fewer
// than minHistory values scores nothing. A flat history (σ = 0, or below
// 1e-9 of the mean, float rounding) broken by a different value scores ±Inf:
// as anomalous as can be. Only closed windows
// are scored (an open window's rate is still growing).
//
// kwindow's own metrics (kwindow_<aggregation>_anomaly_score) score the same
// way, the z-score of the last closed window, against an exponentially
// weighted mean and variance instead of a fixed window of history.
const (
	historyWindows = 10
	minHistory     = 5
)

// anomalyMeasures are the measures scored, when the aggregation has them.
var anomalyMeasures = []string{"rate", "error_ratio", "p99"}

// queryAnomalies answers an anomalies query with an annotation frame: time,
// timeEnd, title, text and tags per anomalous window and measure.
func (d *Datasource) queryAnomalies(ctx context.Context, dq backend.DataQuery, q *Query) backend.DataResponse {
	agg, err := d.aggregation(ctx, q.Aggregation)
	if err != nil {
		return errorResponse(err)
	}
	var measures []string
	for _, m := range anomalyMeasures {
		if slices.Contains(agg.Measures, m) || m == "p99" && agg.AnyQuantile {
			measures = append(measures, m)
		}
	}
	step := windowStep(agg.Window)
	if step <= 0 {
		return errorResponse(&QueryError{"aggregation", fmt.Sprintf("%s windows have no fixed step to score", agg.Window.Type)})
	}
	sp := align(dq.TimeRange.From.Add(-historyWindows*step), dq.TimeRange.To, step)
	req := client.RangeRequest{Aggregation: q.Aggregation, Match: q.matchers(), GroupBy: q.GroupBy,
		Measures: measures, From: sp.From, To: sp.To, Step: step, Stale: q.Stale}
	rec := &recorder{}
	var res *client.RangeResult
	failed, err := d.pool.Do(withRecorder(ctx, rec), func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.QueryRange(ctx, req)
		return err
	})
	if err != nil {
		return errorResponse(err)
	}
	as := findAnomalies(res, step, q.threshold(), dq.TimeRange.From)
	frame := annotationFrame(as)
	frame.RefID = dq.RefID
	frame.Meta.ExecutedQueryString = rec.last()
	frame.AppendNotices(staleNotices(res.Stale)...)
	frame.AppendNotices(failoverNotices(failed)...)
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// Anomaly is one window of one series whose measure scored past the
// threshold.
type Anomaly struct {
	Start, End time.Time
	Labels     map[string]string
	Measure    string
	Value      float64
	Mean, SD   float64
	Z          float64
}

// findAnomalies scores every closed point of res that starts at or after from
// against the points of the historyWindows steps before it.
func findAnomalies(res *client.RangeResult, step time.Duration, threshold float64, from time.Time) []Anomaly {
	var out []Anomaly
	stepMs := client.Timestamp(step.Milliseconds())
	for _, s := range res.Series {
		byStart := make(map[client.Timestamp]client.Point, len(s.Points))
		for _, p := range s.Points {
			byStart[p.Start] = p
		}
		for _, p := range s.Points {
			if p.Start.Time().Before(from) || p.Open > 0 {
				continue
			}
			for _, m := range res.Measures {
				x := float64(p.Values[m])
				if math.IsNaN(x) {
					continue
				}
				var hist []float64
				for k := client.Timestamp(1); k <= historyWindows; k++ {
					if h, ok := byStart[p.Start-k*stepMs]; ok && !h.Values[m].IsNaN() {
						hist = append(hist, float64(h.Values[m]))
					}
				}
				z, mean, sd, ok := zScore(x, hist)
				if ok && math.Abs(z) > threshold {
					out = append(out, Anomaly{Start: p.Start.Time(), End: p.End.Time(), Labels: s.Labels,
						Measure: m, Value: x, Mean: mean, SD: sd, Z: z})
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Anomaly) int { return a.Start.Compare(b.Start) })
	return out
}

// zScore scores x against hist; ok is false for a history too short.
func zScore(x float64, hist []float64) (z, mean, sd float64, ok bool) {
	if len(hist) < minHistory {
		return 0, 0, 0, false
	}
	for _, h := range hist {
		mean += h
	}
	mean /= float64(len(hist))
	for _, h := range hist {
		sd += (h - mean) * (h - mean)
	}
	sd = math.Sqrt(sd / float64(len(hist)))
	tiny := 1e-9 * math.Abs(mean) // float rounding of equal values
	switch {
	case sd > tiny:
		z = (x - mean) / sd
	case math.Abs(x-mean) <= tiny:
		sd, z = 0, 0
	default:
		sd, z = 0, math.Copysign(math.Inf(1), x-mean)
	}
	return z, mean, sd, true
}

// annotationFrame lays anomalies out as Grafana's annotations read them.
func annotationFrame(as []Anomaly) *data.Frame {
	n := len(as)
	times, ends := make([]time.Time, n), make([]time.Time, n)
	titles, texts, tags := make([]string, n), make([]string, n), make([]string, n)
	for i, a := range as {
		times[i], ends[i] = a.Start, a.End
		sel := labelString(a.Labels)
		titles[i] = fmt.Sprintf("%s anomaly %s", a.Measure, sel)
		texts[i] = fmt.Sprintf("%s %s: %s, %s the mean %s of the previous %d windows (z = %s)",
			a.Measure, sel, formatValue(a.Measure, a.Value), direction(a.Z), formatValue(a.Measure, a.Mean), historyWindows, formatZ(a.Z))
		t := []string{"kwindow", "anomaly", a.Measure}
		for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
			t = append(t, k+"="+a.Labels[k])
		}
		tags[i] = strings.Join(t, ",")
	}
	frame := data.NewFrame("anomalies",
		data.NewField("time", nil, times), data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, titles), data.NewField("text", nil, texts), data.NewField("tags", nil, tags))
	frame.SetMeta(&data.FrameMeta{})
	return frame
}

func direction(z float64) string {
	if z > 0 {
		return "above"
	}
	return "below"
}

func formatZ(z float64) string {
	switch {
	case math.IsInf(z, 1):
		return "+∞: the history was flat"
	case math.IsInf(z, -1):
		return "−∞: the history was flat"
	}
	return fmt.Sprintf("%+.1f", z)
}

func formatValue(measure string, v float64) string {
	switch unitOf(measure) {
	case "percentunit":
		return fmt.Sprintf("%.2f%%", 100*v)
	case "reqps":
		return fmt.Sprintf("%.3g req/s", v)
	case "s":
		return fmt.Sprintf("%.3g s", v)
	}
	return fmt.Sprintf("%.3g", v)
}
