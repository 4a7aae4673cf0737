package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/cluster"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/metrics"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
	"github.com/kwindow/kwindow/exporter/ui"
	"github.com/kwindow/kwindow/exporter/web"
)

// signalContext is canceled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// newRegistry holds everything /metrics serves: the runtime's self-metrics, Go and
// process metrics, and build information.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(stream.Namespace),
	)
	return reg
}

// serveStream runs the stream runtime and the web endpoints until ctx is done or
// either fails.
func serveStream(ctx context.Context, cfg *config.Config, g *globals, onResults func([]stream.Result)) error {
	log := g.logger()
	if !store.MallocArenaLimitApplied() {
		log.Debug("malloc arenas: the environment's limit, not kwindow's", "kwindow_limit", store.MallocArenaLimit)
	}
	if !setGCPercent(cfg) {
		log.Info("GOGC is set: memory.gc_percent does not apply", "GOGC", os.Getenv("GOGC"))
	}
	if !setMemoryLimit(cfg) && cfg.Memory.Limit != 0 {
		log.Info("GOMEMLIMIT is set: memory.limit does not apply", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
	}
	reg := newRegistry()
	view := metrics.NewView(cfg)
	reg.MustRegister(metrics.NewCollector(view))
	node, apiOpts, err := newQueryNode(cfg, g, log)
	if err != nil {
		return err
	}
	defer node.Close()
	defer apiOpts.close()
	rt, err := stream.New(ctx, cfg, stream.Options{Logger: log, Registerer: reg, OnResults: onResults,
		Sink: teeSink{view, node.Sink()}, AdvertisedURL: apiOpts.url})
	if err != nil {
		return err
	}
	node.SetRuntime(rt)
	h := web.NewHandler(web.Options{Registry: reg, Gatherers: []prometheus.Gatherer{rt.KafkaGatherer()}, Ready: rt.Ready, Version: version, Logger: log,
		Handlers: map[string]http.Handler{"/api/": api.NewHandler(node, apiOpts.Options)},
		Home:     ui.Handler()})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	webErr := make(chan error, 1)
	go func() {
		webErr <- web.Serve(ctx, g.web, h, log)
		cancel()
	}()
	log.Info("kwindow running", "brokers", cfg.Kafka.Brokers, "input", cfg.Stream.InputTopic,
		"guarantee", cfg.Stream.ProcessingGuarantee, "listen", *g.web.WebListenAddresses, "api", apiOpts.url+"/api/v1/")
	runErr := rt.Run(ctx)
	cancel()
	if err := <-webErr; err != nil && runErr == nil {
		runErr = fmt.Errorf("web: %w", err)
	}
	if errors.Is(runErr, context.Canceled) {
		return nil
	}
	return runErr
}

func (g *globals) logger() *slog.Logger { return g.log }

// setGCPercent sets the garbage collector's target to memory.gc_percent, and
// reports whether it did: GOGC in the environment, which the Go runtime has
// applied already, takes precedence.
func setGCPercent(cfg *config.Config) bool {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return false
	}
	debug.SetGCPercent(cfg.Memory.GCPercent)
	return true
}

// setMemoryLimit sets the Go runtime's soft memory limit to memory.limit when
// it is not 0, and reports whether it did: GOMEMLIMIT in the environment, which
// the Go runtime has applied already, takes precedence.
func setMemoryLimit(cfg *config.Config) bool {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok || cfg.Memory.Limit == 0 {
		return false
	}
	debug.SetMemoryLimit(cfg.Memory.Limit)
	return true
}

// queryAPI is the query API's options and this instance's advertised URL.
type queryAPI struct {
	api.Options
	url   string
	close func() // the membership's Kafka client
}

// newQueryNode builds the query node of this instance (its answers over the
// whole group) and the API's options: the advertised URL, the tokens, the
// limits.
func newQueryNode(cfg *config.Config, g *globals, log *slog.Logger) (*cluster.Node, queryAPI, error) {
	q := queryAPI{url: advertisedURL(cfg, *g.web.WebListenAddresses)}
	var peerToken func() string
	if cfg.API.PeerToken != "" {
		peerToken = func() string { return cfg.API.PeerToken }
	}
	if cfg.API.TokensFile != "" {
		tf, err := api.NewTokenFile(cfg.API.TokensFile, log)
		if err != nil {
			return nil, q, fmt.Errorf("api.tokens_file: %w", err)
		}
		q.Auth = tf // kept: Options below is filled field by field
		if peerToken == nil {
			peerToken = tf.First // read again when the file changes
		}
	}
	base, err := kafka.ClientOpts(cfg.Kafka)
	if err != nil {
		return nil, q, err
	}
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, q, fmt.Errorf("kafka client: %w", err)
	}
	lim := query.Limits{MaxPoints: cfg.API.MaxPoints, MaxKeys: cfg.API.MaxKeys}
	node, err := cluster.New(cluster.Options{Config: cfg, URL: q.url, PeerToken: peerToken, PeerTimeout: time.Duration(cfg.API.PeerTimeout),
		Limits: lim, Logger: log, Members: &cluster.GroupMembership{Admin: kadm.NewClient(admCl), Group: cfg.Stream.ApplicationID, Repartition: cfg.RepartitionTopic()}})
	if err != nil {
		admCl.Close()
		return nil, q, err
	}
	q.Config, q.Limits, q.Logger, q.Version, q.Internal = cfg, lim, log, version, node.PeerHandler()
	q.close = admCl.Close
	return node, q, nil
}

// advertisedURL is api.advertised_url, or http:// and the first listen address,
// with the host name when it listens on every interface.
func advertisedURL(cfg *config.Config, listen []string) string {
	if cfg.API.AdvertisedURL != "" {
		return strings.TrimSuffix(cfg.API.AdvertisedURL, "/")
	}
	addr := web.DefaultListenAddress
	if len(listen) > 0 {
		addr = listen[0]
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if host, err = os.Hostname(); err != nil || host == "" {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// teeSink hands committed state to several sinks.
type teeSink []stream.Sink

func (t teeSink) Active(p int32, st int64, totals []engine.Change) {
	for _, s := range t {
		s.Active(p, st, totals)
	}
}

func (t teeSink) Committed(cs []stream.Commit) {
	for _, s := range t {
		s.Committed(cs)
	}
}

func (t teeSink) Inactive(p int32) {
	for _, s := range t {
		s.Inactive(p)
	}
}

// WantsOpenWindows implements stream.OpenWindowsSink: one of the sinks does.
func (t teeSink) WantsOpenWindows() bool {
	for _, s := range t {
		if o, ok := s.(stream.OpenWindowsSink); ok && o.WantsOpenWindows() {
			return true
		}
	}
	return false
}
