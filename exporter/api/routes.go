package api

import (
	"net/http"
	"reflect"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// routes is every route the API serves; the mux and the OpenAPI document are
// built from it.
func routes() []*route {
	get, getPost := []string{http.MethodGet}, []string{http.MethodGet, http.MethodPost}
	query := []int{http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	return []*route{
		{path: Prefix + "status", methods: get, serve: serveStatus, data: reflect.TypeFor[client.Status](),
			summary:     "The consumer group as this instance sees it",
			description: "Readiness, the members of the group and the repartition partitions each owns (and which are restoring), and the stream time of each partition this instance owns."},
		{path: Prefix + "aggregations", methods: get, serve: serveAggregations, data: reflect.TypeFor[[]client.Aggregation](),
			statuses: []int{http.StatusGatewayTimeout},
			summary:  "Every aggregation and what it can answer",
			description: "Windows, dimensions, the measures queries can ask for, retention, the sketch's relative error, and the window starts each can answer for. " +
				"The time range is computed from the stream times of the partitions of the instance that answers (basis \"local\"): " +
				"from the least stream time minus retention to the greatest; other instances' partitions may be a little ahead or behind."},
		{path: Prefix + "aggregations/{name}", methods: get, serve: serveAggregation, data: reflect.TypeFor[client.Aggregation](),
			params: aggregationParams, statuses: []int{http.StatusNotFound, http.StatusGatewayTimeout},
			summary: "One aggregation", description: "As one element of /api/v1/aggregations; 404 for an unknown name."},
		{path: Prefix + "values", methods: get, serve: serveValues, data: reflect.TypeFor[client.ValuesResult](),
			params: valuesParams, statuses: query,
			summary:     "The values of a dimension",
			description: "The distinct values of one dimension among the keys the stores hold (keys with windows within retention), ascending, for query editors and template variables."},
		{path: Prefix + "query_range", methods: getPost, serve: serveRange, data: reflect.TypeFor[client.RangeResult](),
			params: rangeParams, statuses: query,
			summary: "Windows over a time range, in steps",
			description: "One series per group key; per point, the windows of the series that start in its step, merged exactly " +
				"(counts add, sketches merge bucket by bucket: a quantile is that of all the step's events, within the sketch's relative error), " +
				"with how many windows it merged, how many were still open, and whether it is complete (no later commit can change it). " +
				"Steps without windows are left out. POST takes the same parameters as a form or a JSON object."},
		{path: Prefix + "latest", methods: get, serve: serveLatest, data: reflect.TypeFor[client.LatestResult](),
			params: latestParams, statuses: query,
			summary:     "The latest closed window and the open windows of each key",
			description: "For live panels: per key, the latest window that has closed (final) and the windows still open (partial: later commits change them)."},
		{path: Prefix + "topk", methods: getPost, serve: serveTopK, data: reflect.TypeFor[client.TopKResult](),
			params: topkParams, statuses: query,
			summary: "The k keys with the largest (or smallest) value of a measure over a time range",
			description: "Each key's windows starting in [from, to) merged exactly, ranked by the measure, best first; keys without a value (NaN) last. " +
				"POST takes the same parameters as a form or a JSON object."},
		{path: Prefix + "stream", methods: get, serve: serveStream, produces: "text/event-stream",
			params: streamParams, statuses: []int{http.StatusBadRequest, http.StatusServiceUnavailable},
			summary: "Committed window updates, as server-sent events",
			description: "Each window of a selected key as its transaction commits: `event: update` with a WindowUpdate " +
				"(partial while the window is open), a `: heartbeat` comment every 15 s, and `event: dropped` with a Dropped " +
				"as the last event when the server ends the stream (a slow client, a shutdown). The stream does not resume: " +
				"reconnect, and read /api/v1/latest for what was missed. 503 when api.max_subscribers streams are open."},
		{path: Prefix + "openapi.json", methods: get, serve: serveOpenAPI, produces: "application/json",
			summary: "This document", description: "The OpenAPI 3.0 document of the API."},
	}
}

func serveOpenAPI(h *handler, w http.ResponseWriter, r *http.Request, p *params) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(h.doc)
}
