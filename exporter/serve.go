package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/metrics"
	"github.com/kwindow/kwindow/exporter/stream"
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
	reg := newRegistry()
	view := metrics.NewView(cfg)
	reg.MustRegister(metrics.NewCollector(view))
	rt, err := stream.New(ctx, cfg, stream.Options{Logger: log, Registerer: reg, OnResults: onResults, Sink: view})
	if err != nil {
		return err
	}
	h := web.NewHandler(web.Options{Registry: reg, Gatherers: []prometheus.Gatherer{rt.KafkaGatherer()}, Ready: rt.Ready, Version: version, Logger: log})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	webErr := make(chan error, 1)
	go func() {
		webErr <- web.Serve(ctx, g.web, h, log)
		cancel()
	}()
	log.Info("kwindow running", "brokers", cfg.Kafka.Brokers, "input", cfg.Stream.InputTopic,
		"guarantee", cfg.Stream.ProcessingGuarantee, "listen", *g.web.WebListenAddresses)
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
