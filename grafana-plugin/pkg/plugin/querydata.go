package plugin

import (
	"context"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// maxParallel bounds the queries of one request that run at once.
const maxParallel = 4

// QueryData answers each query of a batch on its own, a few at a time: a
// query's failure is its own error response (errorResponse), never the
// batch's.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	// Grafana's alerting marks its requests: it needs wide frames, never the
	// live layout.
	alerting := req.GetHTTPHeader("FromAlert") == "true" || req.Headers["FromAlert"] == "true"
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallel)
	for _, q := range req.Queries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := d.query(ctx, q, alerting)
			mu.Lock()
			resp.Responses[q.RefID] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return resp, nil
}

// query answers one query.
func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, alerting bool) backend.DataResponse {
	if d.settingsErr != nil {
		return errorResponse(d.settingsErr)
	}
	q, err := ParseQuery(dq.JSON)
	if err != nil {
		return errorResponse(err)
	}
	if alerting {
		q.Live = false
	}
	switch q.QueryType {
	case QueryLatest:
		return d.queryLatest(ctx, dq, q)
	case QueryTopK:
		return d.queryTopK(ctx, dq, q)
	case QueryAnomalies:
		return d.queryAnomalies(ctx, dq, q)
	}
	return d.queryRange(ctx, dq, q)
}
