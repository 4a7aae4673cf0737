// Package plugin is the backend of kwindow's Grafana data source: one
// Datasource per configured data source (datasource.Manage creates it from the
// settings and disposes of it when they change), answering Grafana's queries,
// health checks, resource calls and Live streams with calls to kwindow's query
// API (exporter/api/client).
//
// Two invariants:
//   - Each query of a batch is answered on its own: a query that fails gets an
//     error response with a status (bad request, timeout, bad gateway, ...) and
//     never fails its neighbours.
//   - Every API call goes through the same failover (Pool.Do): the configured
//     URLs in order, moving on after a connection error or a 5xx answer, never
//     after a 4xx, which another instance would answer the same way.
//
// The query model is grafana-plugin/QUERY_MODEL.md, shared with the front end
// and the dashboards.
package plugin
