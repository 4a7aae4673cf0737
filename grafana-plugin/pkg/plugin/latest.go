package plugin

import (
	"context"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// queryLatest answers a latest query with a table: per key, its latest closed
// window and then its open ones (partial; none with closedOnly), windows that
// start from the time range's start on. Columns: the key's dimensions, start,
// end, partial, and a column per measure.
func (d *Datasource) queryLatest(ctx context.Context, dq backend.DataQuery, q *Query) backend.DataResponse {
	req := client.LatestRequest{Aggregation: q.Aggregation, Match: q.matchers(), Measures: q.Measures,
		Since: dq.TimeRange.From, Stale: q.Stale}
	rec := &recorder{}
	var res *client.LatestResult
	failed, err := d.pool.Do(withRecorder(ctx, rec), func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.Latest(ctx, req)
		return err
	})
	if err != nil {
		return errorResponse(err)
	}
	dims := make([][]string, len(res.GroupBy))
	var starts, ends []time.Time
	var partial []bool
	vals := make([][]*float64, len(res.Measures))
	add := func(k client.LatestKey, w client.Window) {
		for i, g := range res.GroupBy {
			dims[i] = append(dims[i], k.Labels[g])
		}
		starts, ends, partial = append(starts, w.Start.Time()), append(ends, w.End.Time()), append(partial, w.Partial)
		for i, m := range res.Measures {
			vals[i] = append(vals[i], valuePtr(w.Values[m]))
		}
	}
	open := 0
	for _, k := range res.Keys {
		if k.Closed != nil {
			add(k, *k.Closed)
		}
		if q.ClosedOnly {
			continue
		}
		for _, w := range k.Open {
			add(k, w)
			open++
		}
	}
	var fields data.Fields
	for i, g := range res.GroupBy {
		fields = append(fields, data.NewField(g, nil, nonNil(dims[i])))
	}
	fields = append(fields, data.NewField("start", nil, nonNil(starts)), data.NewField("end", nil, nonNil(ends)),
		data.NewField("partial", nil, nonNil(partial)))
	for i, m := range res.Measures {
		f := data.NewField(m, nil, nonNil(vals[i]))
		f.Config = &data.FieldConfig{Unit: unitOf(m)}
		fields = append(fields, f)
	}
	frame := data.NewFrame("", fields...)
	frame.RefID = dq.RefID
	frame.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, ExecutedQueryString: rec.last()})
	if open > 0 {
		frame.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo, Text: "rows with partial = true are windows still open, whose values may still change"})
	}
	frame.AppendNotices(staleNotices(res.Stale)...)
	frame.AppendNotices(failoverNotices(failed)...)
	return backend.DataResponse{Frames: data.Frames{frame}}
}

// nonNil returns s, or an empty slice for nil: a field of no rows still has
// its type.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
