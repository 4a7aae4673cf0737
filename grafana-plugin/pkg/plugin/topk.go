package plugin

import (
	"context"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// queryTopK answers a top-k query with a table, best first: the key's
// dimensions, the value of the query's first measure over the time range
// (every window of the key merged), how many windows it merged and whether it
// is complete.
func (d *Datasource) queryTopK(ctx context.Context, dq backend.DataQuery, q *Query) backend.DataResponse {
	req := client.TopKRequest{Aggregation: q.Aggregation, Match: q.matchers(), GroupBy: q.GroupBy,
		Measure: q.Measures[0], K: q.K, Bottom: q.Bottom, From: dq.TimeRange.From, To: dq.TimeRange.To, Stale: q.Stale}
	rec := &recorder{}
	var res *client.TopKResult
	failed, err := d.pool.Do(withRecorder(ctx, rec), func(ctx context.Context, c *client.Client) (err error) {
		res, err = c.TopK(ctx, req)
		return err
	})
	if err != nil {
		return errorResponse(err)
	}
	dims := make([][]string, len(res.GroupBy))
	vals := make([]*float64, 0, len(res.Entries))
	windows := make([]int64, 0, len(res.Entries))
	complete := make([]bool, 0, len(res.Entries))
	for _, e := range res.Entries {
		for i, g := range res.GroupBy {
			dims[i] = append(dims[i], e.Labels[g])
		}
		vals = append(vals, valuePtr(e.Value))
		windows = append(windows, int64(e.Windows))
		complete = append(complete, e.Complete)
	}
	var fields data.Fields
	for i, g := range res.GroupBy {
		fields = append(fields, data.NewField(g, nil, nonNil(dims[i])))
	}
	vf := data.NewField(res.Measure, nil, vals)
	vf.Config = &data.FieldConfig{Unit: unitOf(res.Measure)}
	fields = append(fields, vf, data.NewField("windows", nil, windows), data.NewField("complete", nil, complete))
	frame := data.NewFrame("", fields...)
	frame.RefID = dq.RefID
	frame.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, ExecutedQueryString: rec.last()})
	frame.AppendNotices(staleNotices(res.Stale)...)
	frame.AppendNotices(failoverNotices(failed)...)
	return backend.DataResponse{Frames: data.Frames{frame}}
}
