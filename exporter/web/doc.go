// Package web is the HTTP side of kwindow, laid out as Prometheus exporters are
// (node_exporter is the model): the --web.* flags and listener handling of
// exporter-toolkit, and one handler for every route.
//
//	/          Options.Home (the live page), or a landing page linking to every
//	           route below and to Options.Links
//	/metrics   Options.Registry in Prometheus text, OpenMetrics or protobuf, negotiated
//	           from the Accept header (Prometheus asks for protobuf to get native
//	           histograms, which the text formats cannot carry)
//	/healthz   200 "ok" as long as the process answers HTTP (liveness)
//	/readyz    200 once Options.Ready says so, 503 with its reason until then (readiness)
//
// plus whatever Options.Handlers adds (the query API under /api/).
//
// TLS, basic authentication and rate limiting are not configured here but by
// exporter-toolkit's web configuration file (--web.config.file), which it re-reads on
// every connection. Serve applies them to every route, probes included; the handler
// from NewHandler served any other way has none of them.
package web
