package api

import (
	"net/http"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
)

var latestParams = []param{
	pAggregation, pMatch, pMeasures,
	{name: "since", kind: kTime, example: "2026-11-20T12:00:00Z",
		desc: "Read only windows that start at or after it: RFC 3339 or unix seconds. Default every window " +
			"retained. A live panel gives a few windows before now, so that only those are read."},
	pStale,
}

func serveLatest(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	a := h.aggregation(p)
	q := query.LatestQuery{Filters: h.matchers(p)}
	ms := h.measures(p)
	q.Since = p.time("since", 0)
	stale := p.boolean("stale")
	if p.err != nil {
		h.fail(w, r, p.err)
		return
	}
	q.Aggregation, q.Measures = a.Name, ms.ms
	ctx, cancel := h.queryContext(r)
	defer cancel()
	res, cov, err := h.b.Latest(ctx, q, ReadOptions{Stale: stale})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := &client.LatestResult{
		Aggregation: res.Aggregation, GroupBy: nonNil(res.GroupBy), Measures: ms.names,
		Keys: make([]client.LatestKey, 0, len(res.Keys)), Coverage: coverage(res.Partitions, cov),
	}
	for _, k := range res.Keys {
		ck := client.LatestKey{Labels: labels(res.GroupBy, k.Key), Partition: k.Partition, Open: make([]client.Window, 0, len(k.Open))}
		if k.Closed != nil {
			cw := wireWindow(k.Closed, ms)
			ck.Closed = &cw
		}
		for i := range k.Open {
			ck.Open = append(ck.Open, wireWindow(&k.Open[i], ms))
		}
		out.Keys = append(out.Keys, ck)
	}
	ok(w, out)
}

func wireWindow(w *query.Window, ms measures) client.Window {
	return client.Window{Start: client.Timestamp(w.Start), End: client.Timestamp(w.End), Last: client.Timestamp(w.Last),
		Partial: w.Partial, Values: ms.values(w.Value)}
}
