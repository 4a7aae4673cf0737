package api

import (
	"net/http"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

// defaultK is the k of a top-k query without one.
const defaultK = 10

var topkParams = []param{
	pAggregation, pMatch,
	{name: "group_by", kind: kCSV, example: "endpoint",
		desc: "The dimensions that make a key, comma-separated. Default the aggregation's whole group_by."},
	{name: "measure", example: "p99",
		desc: "The measure to rank by (see query_range's measure). Default count."},
	{name: "k", kind: kInt, example: "10", desc: "How many keys, 1 to api.max_keys. Default 10."},
	{name: "bottom", kind: kBool, example: "false", desc: "The k smallest instead of the k largest."},
	pFrom, pTo, pStale,
}

func serveTopK(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	a := h.aggregation(p)
	q := query.TopKQuery{Filters: h.matchers(p)}
	q.GroupBy, _ = p.csv("group_by")
	name := p.str("measure")
	q.K = p.int("k", defaultK)
	q.Bottom = p.boolean("bottom")
	q.From, q.To = h.timeRange(p)
	stale := p.boolean("stale")
	if name == "" {
		name = "count"
	}
	m, err := query.ParseMeasure(name)
	if err != nil {
		p.fail(badParam("measure", "%v", err))
	}
	if p.err == nil && (q.K < 1 || q.K > h.o.Limits.MaxKeys) {
		p.fail(badParam("k", "must be 1 to %d (api.max_keys), got %d", h.o.Limits.MaxKeys, q.K))
	}
	if p.err != nil {
		h.fail(w, r, p.err)
		return
	}
	q.Aggregation, q.Measure = a.Name, m
	ctx, cancel := h.queryContext(r)
	defer cancel()
	res, cov, err := h.b.TopK(ctx, q, ReadOptions{Stale: stale})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := &client.TopKResult{
		Aggregation: res.Aggregation, GroupBy: nonNil(res.GroupBy), Measure: name, K: res.K, Bottom: res.Bottom,
		From: client.Timestamp(res.From), To: client.Timestamp(res.To),
		Entries:    make([]client.TopKEntry, 0, len(res.Entries)),
		StreamTime: streamTime(res.StreamTime), Coverage: coverage(res.Partitions, cov),
	}
	complete := len(cov.Stale) == 0 && out.StreamTime != nil && res.StreamTime >= res.FinalAt
	for _, e := range res.Entries {
		complete = complete && e.Complete
		out.Entries = append(out.Entries, client.TopKEntry{Labels: labels(res.GroupBy, e.Key), Value: client.Value(e.Value),
			Windows: e.Windows, Open: e.Open, Complete: e.Complete})
	}
	out.Complete = complete
	ok(w, out)
}
