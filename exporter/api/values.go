package api

import (
	"net/http"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

var valuesParams = []param{
	pAggregation,
	{name: "dimension", required: true, example: "endpoint", desc: "The dimension whose values to list: one of the aggregation's group_by."},
	{name: "prefix", example: "/api/", desc: "Only values starting with it."},
	pMatch,
	{name: "limit", kind: kInt, example: "100", desc: "At most this many values, 0 to api.max_keys; 0 (the default) is api.max_keys."},
	pStale,
}

func serveValues(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	a := h.aggregation(p)
	q := query.ValuesQuery{Dimension: p.str("dimension"), Prefix: p.str("prefix"), Filters: h.matchers(p)}
	q.Limit = p.int("limit", 0)
	stale := p.boolean("stale")
	if p.err == nil && q.Dimension == "" {
		p.fail(badParam("dimension", "required: one of %v", a.GroupBy))
	}
	if p.err == nil && (q.Limit < 0 || q.Limit > h.o.Limits.MaxKeys) {
		p.fail(badParam("limit", "must be 0 to %d (api.max_keys), got %d", h.o.Limits.MaxKeys, q.Limit))
	}
	if p.err != nil {
		h.fail(w, r, p.err)
		return
	}
	q.Aggregation = a.Name
	ctx, cancel := h.queryContext(r)
	defer cancel()
	res, cov, err := h.b.Values(ctx, q, ReadOptions{Stale: stale})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ok(w, &client.ValuesResult{Aggregation: a.Name, Dimension: q.Dimension, Values: nonNil(res.Values),
		Truncated: res.Truncated, Coverage: coverage(res.Partitions, cov)})
}
