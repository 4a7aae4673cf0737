// Package dashboards holds kwindow's Grafana dashboards and provisioning
// (provisioning/: the Prometheus and kwindow data sources, and a file provider for
// the dashboards in provisioning/dashboards) and the tests that keep them, and
// docker-compose.yml, in step with what kwindow exports and serves.
//
// The tests read the repository only: no Grafana, Docker or Kafka. A dashboard's
// PromQL must parse and name only metrics kwindow exports for its default
// configuration (gathered from the same collectors /metrics serves, built without
// connecting), Prometheus' own series (up, ALERTS) or the recording rules in
// alerts/; a kwindow data-source query must name aggregations, measures and
// dimensions that configuration has, as the query API checks them.
package dashboards
