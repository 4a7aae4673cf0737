// Package ui is kwindow's live page: a built-in dashboard that shows, without
// Grafana, that kwindow works. Its front end (TypeScript and uPlot, sources in
// web/) is built by npm into dist/, which is committed and embedded here, so
// that `go build` and `go install` need no Node; make ui rebuilds it and make
// ui-check fails when a fresh build differs from the committed bundle.
//
//	/        redirects to ui/
//	/ui/     the page (index.html, never cached: it names the current bundle)
//	/ui/...  the bundle's assets, named by content hash and cached for a year
//
// The page reads only what any client can: the query API (/api/v1: query_range,
// latest, the stream of window updates as server-sent events, status) and
// /metrics (anomaly scores and the exporter's own health), on its own origin,
// with relative URLs so that it also works under a reverse proxy's path prefix.
// TLS and basic authentication of --web.config.file apply to it as to every
// route; the API's bearer token, when one is required, is asked for by the page
// and kept in the browser's sessionStorage only.
package ui
