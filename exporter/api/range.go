package api

import (
	"net/http"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/window"
)

var rangeParams = []param{
	pAggregation, pMatch,
	{name: "group_by", kind: kCSV, example: "endpoint,region",
		desc: "The dimensions that make a series, comma-separated. Absent: the aggregation's whole " +
			"group_by, one series per key. Empty (group_by=): every key merged into one series."},
	pMeasures, pFrom, pTo,
	{name: "step", kind: kDuration, example: "1h",
		desc: "The width of a point: a duration (1m, 1h30m) or seconds (60). Default the window's own step " +
			"(its size, a hopping window's advance, a session's gap). A step longer than the window merges " +
			"each key's windows exactly: counts add and sketches merge bucket by bucket, so a p99 over 1h is " +
			"that of the hour's events. Hopping windows take a step up to the advance, or a multiple of the size."},
	{name: "max_resolution", kind: kDuration, example: "1m",
		desc: "The coarsest rollup to read. Absent: each step reads the coarsest final rollups of the aggregation " +
			"that fit in it, and finer windows at its edges; the window size reads windows only. Rollups merge " +
			"windows exactly, so the answer is the same either way (each point's resolution says what it read)."},
	pStale,
}

func serveRange(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	a := h.aggregation(p)
	q := query.RangeQuery{Filters: h.matchers(p)}
	by, hasBy := p.csv("group_by")
	ms := h.measures(p)
	q.From, q.To = h.timeRange(p)
	step, hasStep := p.duration("step")
	maxRes, _ := p.duration("max_resolution")
	stale := p.boolean("stale")
	if p.err != nil {
		h.fail(w, r, p.err)
		return
	}
	q.Aggregation, q.Measures, q.GroupBy = a.Name, ms.ms, by
	if !hasBy {
		q.GroupBy = a.GroupBy
	}
	if hasStep {
		q.Step = step
	}
	q.MaxResolution = maxRes
	ctx, cancel := h.queryContext(r)
	defer cancel()
	res, cov, err := h.b.Range(ctx, q, ReadOptions{Stale: stale})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, rangeResult(a, res, cov, ms))
}

// csv reads a comma-separated list; present is whether it was given at all
// (group_by= is present and empty).
func (p *params) csv(name string) (vals []string, present bool) {
	present = p.has(name)
	return p.list(name), present
}

func rangeResult(a *config.Aggregation, res *query.RangeResult, cov Coverage, ms measures) *client.RangeResult {
	out := &client.RangeResult{
		Aggregation: res.Aggregation, GroupBy: nonNil(res.GroupBy), Measures: ms.names,
		From: client.Timestamp(res.From), To: client.Timestamp(res.To), Step: client.Duration(res.Step * 1e6),
		MergedWindows: mergesWindows(a.WindowSpec(), res.Step),
		Series:        make([]client.Series, 0, len(res.Series)),
		StreamTime:    streamTime(res.StreamTime),
		Coverage:      coverage(res.Partitions, cov),
	}
	complete := len(cov.Stale) == 0 && out.StreamTime != nil && res.StreamTime >= rangeFinalAt(a.WindowSpec(), res.To)
	for _, s := range res.Series {
		cs := client.Series{Labels: labels(res.GroupBy, s.Key), Points: make([]client.Point, 0, len(s.Points))}
		for i := range s.Points {
			pt := &s.Points[i]
			complete = complete && pt.Complete
			cs.Points = append(cs.Points, client.Point{
				Start: client.Timestamp(pt.Start), End: client.Timestamp(pt.End),
				Windows: pt.Windows, Open: pt.Open, Complete: pt.Complete,
				Values:     ms.values(pt.Value),
				Resolution: client.Duration(pt.Resolution * 1e6),
			})
		}
		out.Series = append(out.Series, cs)
	}
	out.Complete = complete
	return out
}

// mergesWindows reports whether a point of this step can merge several windows
// of one key.
func mergesWindows(spec window.Spec, step int64) bool {
	switch spec.Kind {
	case window.Tumbling:
		return step > spec.Size
	case window.Hopping:
		return step > spec.Advance
	case window.Session:
		return true // a step can hold several sessions of a key
	}
	return false // sliding: the latest window of a key per step
}

// rangeFinalAt is the stream time from which no window starting before to can
// appear or change: the close time of the last window that can start there.
func rangeFinalAt(spec window.Spec, to int64) int64 {
	last := to - 1
	switch spec.Kind {
	case window.Tumbling:
		last -= floorMod(last, spec.Size)
	case window.Hopping:
		last -= floorMod(last, spec.Advance)
	}
	end := satint.Add(last, spec.Size)
	switch spec.Kind {
	case window.Sliding:
		end = satint.Add(end, 1) // sliding windows end at an inclusive time + 1ms
	case window.Session:
		end = satint.Add(last, 1)
	}
	return spec.CloseTime(window.Window{Start: last, End: end})
}

func floorMod(a, m int64) int64 {
	if m <= 0 {
		return 0
	}
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}
