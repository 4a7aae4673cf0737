package web

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
)

// Options configures NewHandler. The zero value serves an empty registry, is always
// ready and logs nothing.
type Options struct {
	// Registry is gathered by /metrics on every scrape. The handler also registers
	// its own promhttp_metric_handler_* metrics in it. Nil means an empty registry.
	Registry *prometheus.Registry
	// Ready reports whether kwindow is ready to serve queries and scrapes, and if not,
	// why, for a person to read: "restoring 3 of 12 partitions: 1.2M records left".
	// It is called on every /readyz request, so it must be cheap and safe for
	// concurrent use. Nil means always ready.
	Ready func() (ready bool, reason string)
	// Gatherers are gathered by /metrics besides Registry (metrics from a library
	// that registers into its own registry). Nil entries are skipped.
	Gatherers []prometheus.Gatherer
	// Version is shown on the landing page.
	Version string
	// Links are extra landing-page entries, such as the query API.
	Links []Link
	// Home, when set, serves / and every path no other route matches, in place
	// of the landing page of links (and Links): kwindow's live page, which links
	// to the routes itself.
	Home http.Handler
	// Logger receives errors gathering metrics. Nil discards them.
	Logger *slog.Logger
	// Handlers are extra routes, keyed by http.ServeMux pattern ("/api/"). A pattern
	// equal to a built-in route (/, /metrics, /healthz, /readyz) is a programming
	// error and makes NewHandler panic, as http.ServeMux.Handle does.
	Handlers map[string]http.Handler
}

// Link is a landing-page entry.
type Link struct {
	Path string // a path on this server, such as "/api/v1/"
	Text string
}

// NewHandler returns the handler for every route of the exporter (see the package
// documentation).
func NewHandler(o Options) http.Handler {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(reg, nonNil(o.Gatherers), logger))
	mux.Handle("/healthz", http.HandlerFunc(healthz))
	mux.Handle("/readyz", readyz(o.Ready))
	for _, pattern := range slices.Sorted(maps.Keys(o.Handlers)) {
		mux.Handle(pattern, o.Handlers[pattern])
	}
	if o.Home != nil {
		mux.Handle("/", o.Home)
	} else {
		mux.Handle("/", landingPage(o, logger))
	}
	return mux
}

// metricsHandler serves reg as node_exporter does: errors from single collectors
// are logged and counted (promhttp_metric_handler_errors_total) while the rest is
// still served, so one failing collector does not blank the whole scrape.
// EnableOpenMetrics adds OpenMetrics to the negotiated formats; text and protobuf
// are always offered.
func metricsHandler(reg *prometheus.Registry, extra []prometheus.Gatherer, logger *slog.Logger) http.Handler {
	h := promhttp.HandlerFor(append(prometheus.Gatherers{reg}, extra...), promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg,
		EnableOpenMetrics: true,
	})
	return promhttp.InstrumentMetricHandler(reg, h)
}

// landingPage is exporter-toolkit's landing page, with a link to every route.
func landingPage(o Options, logger *slog.Logger) http.Handler {
	links := []toolkitweb.LandingLinks{
		{Address: "/metrics", Text: "Metrics", Description: "windowed aggregates and kwindow's own metrics, for Prometheus"},
		{Address: "/healthz", Text: "Health", Description: "liveness: 200 while the process serves"},
		{Address: "/readyz", Text: "Readiness", Description: "readiness: 200 when ready to serve, 503 with the reason until then"},
	}
	for _, l := range o.Links {
		links = append(links, toolkitweb.LandingLinks{Address: l.Path, Text: l.Text})
	}
	h, err := toolkitweb.NewLandingPage(toolkitweb.LandingConfig{
		Name:        "kwindow",
		Description: "Event-time windowed aggregates over a Kafka stream of events",
		Version:     o.Version,
		Links:       links,
		// No /debug/pprof/ routes here unless a caller adds them.
		Profiling: "false",
	})
	if err != nil {
		// The template is exporter-toolkit's own and only plain strings go in, so this
		// does not happen; if it ever does, the other routes still work.
		logger.Error("building the landing page", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "landing page unavailable: "+err.Error(), http.StatusInternalServerError)
		})
	}
	return h
}

func nonNil(gs []prometheus.Gatherer) []prometheus.Gatherer {
	var out []prometheus.Gatherer
	for _, g := range gs {
		if g != nil {
			out = append(out, g)
		}
	}
	return out
}
