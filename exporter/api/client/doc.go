// Package client is the typed Go client of kwindow's interactive query API
// (/api/v1) and the home of its wire types: the server (package api) encodes
// exactly the structs declared here, so the two cannot drift apart.
//
// The package imports neither the query engine nor the state stores: a program
// that only talks to kwindow over HTTP, such as the Grafana plugin, links no
// RocksDB and builds with CGO_ENABLED=0.
//
// On the wire, every answer is an envelope as in Prometheus' HTTP API,
// {"status":"success","data":{...}} or {"status":"error","error":{...}}; times
// are unix seconds with millisecond precision (Timestamp), durations are
// Prometheus durations such as "1m" (Duration), and a measure's value is a JSON
// number, null when it has none (NaN: a ratio over no events, a quantile over no
// values) and the strings "+Inf" and "-Inf" for infinities (Value).
//
// Every method takes a context; an answer with an error status is returned as an
// *Error with the server's code (bad_query, limit_exceeded, unauthorized,
// not_found, unavailable, timeout, internal), the parameter at fault and, for
// unavailable, the Retry-After hint.
package client
