// Package api is the HTTP side of the interactive query API, /api/v1: JSON
// handlers over a Backend (the stores of the whole consumer group; package
// cluster implements it), bearer-token authentication and the API's OpenAPI
// document. The wire types live in package client, which the handlers encode
// as they are, so the Go client and the server share one definition and the
// client links neither the query engine nor RocksDB.
//
//	GET  /api/v1/status                the group: members, partitions, readiness
//	GET  /api/v1/aggregations          every aggregation: windows, dimensions,
//	GET  /api/v1/aggregations/{name}   measures, retention, answerable time range
//	GET  /api/v1/values                the values of a dimension
//	GET  /api/v1/query_range           windows over a time range, in steps (also POST)
//	GET  /api/v1/latest                the latest closed and the open windows per key
//	GET  /api/v1/topk                  the K keys with the largest measure (also POST)
//	GET  /api/v1/stream                committed window updates, server-sent events
//	GET  /api/v1/openapi.json          the OpenAPI 3.0 document of all of the above
//	     /api/v1/internal/...          the instances' own fan-out (Options.Internal)
//
// Answers are Prometheus-style envelopes, {"status":"success","data":...} or
// {"status":"error","error":{"code":...,"message":...,"param":...}}, with
// stable codes (client.CodeBadQuery, ...). Two invariants:
//
//   - Every parameter is read through one helper that knows each route's
//     declared parameters: an undeclared parameter is a 400 naming it (a typo
//     such as match= for match[] is not silently ignored), and the OpenAPI
//     document is generated from the same declarations, its schemas from the
//     wire types by reflection; a test checks both against what the handlers
//     actually read and write.
//   - A request never learns more than its token allows: without a valid
//     token every route under /api/v1 (internal ones included) answers the same
//     401, whatever was wrong, after comparing against every token in constant
//     time. /metrics and the probes are served elsewhere (package web) and
//     never need one.
package api
