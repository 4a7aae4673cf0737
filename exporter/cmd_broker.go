package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/broker"
	"github.com/kwindow/kwindow/exporter/config"
)

func addBrokerCommand(app *kingpin.Application, g *globals) {
	var o brokerOptions
	cmd := app.Command("broker", "Run the embedded Kafka-protocol broker (franz-go's kfake) on loopback until interrupted: a Kafka for the demo, kcat and any client.")
	cmd.Flag("listen-address", "host:port to listen on; loopback addresses only, port 0 picks a free port.").Default(broker.DefaultAddr).StringVar(&o.addr)
	cmd.Flag("partitions", "Partitions of the topics created at start and of topics created without a partition count.").Default("6").Int32Var(&o.partitions)
	cmd.Flag("topic", "Topic to create at start (repeatable). Default: the configuration's stream.input_topic.").StringsVar(&o.topics)
	cmd.Flag("data-dir", "Keep the broker's topics, records and offsets in this directory across restarts (default: in memory only).").StringVar(&o.dataDir)
	cmd.Flag("compact-interval", "How often compacted topics (kwindow's changelogs) are compacted and retention is applied, each time at a moment when no transaction is open.").Default(broker.DefaultCompactInterval.String()).DurationVar(&o.compactEvery)
	cmd.Flag("trim-interval", "How often to delete the records of these topics that the configuration's consumer group (stream.application_id) has committed past, keeping memory bounded; 0 disables.").Default("10s").DurationVar(&o.trimEvery)
	cmd.Flag("retention", "How long the records of the configuration's output, dead-letter and late topics are kept (by timestamp, checked every minute), keeping memory bounded; 0 keeps them.").Default("1h").DurationVar(&o.retention)
	cmd.Flag("metrics-address", "host:port on which to serve the broker process's own /metrics (Go runtime and process) and /debug/pprof/, for soak tests; empty: none.").StringVar(&o.metricsAddr)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		logger := g.log // set from --log.level and --log.format
		if logger == nil {
			logger = slog.Default()
		}
		return runBroker(cfg, logger, o)
	})
}

type brokerOptions struct {
	addr       string
	partitions int32
	topics     []string
	dataDir    string
	trimEvery  time.Duration
	retention  time.Duration
	// compactEvery: broker.Options.CompactInterval.
	compactEvery time.Duration
	metricsAddr  string
}

func runBroker(cfg *config.Config, logger *slog.Logger, o brokerOptions) error {
	if len(o.topics) == 0 {
		o.topics = []string{cfg.Stream.InputTopic}
	}
	if o.trimEvery < 0 || o.retention < 0 {
		return fmt.Errorf("--trim-interval and --retention must be >= 0 (0 disables), got %v and %v", o.trimEvery, o.retention)
	}
	b, err := broker.Start(broker.Options{
		Addr: o.addr, DataDir: o.dataDir, Partitions: o.partitions, Topics: o.topics,
		CompactInterval: o.compactEvery,
		Logf:            func(format string, args ...any) { logger.Warn(fmt.Sprintf(format, args...)) },
		Debugf:          func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return err
	}
	defer b.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	where := "in memory"
	if o.dataDir != "" {
		where = "in " + o.dataDir
	}
	fmt.Printf("kwindow broker: Kafka protocol on %s; topics %s (%d partitions by default); data %s.\n",
		b.Addr(), strings.Join(o.topics, ", "), o.partitions, where)
	fmt.Printf("  look at it:     kcat -b %s -L\n", b.Addr())
	fmt.Printf("  generate load:  kwindow loadgen --brokers=%s --topic=%s\n", b.Addr(), o.topics[0])
	fmt.Printf("  point kwindow:  kafka.brokers: [%s]\n", b.Addr())
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		return err
	}
	defer cl.Close()
	debugf := func(format string, args ...any) { logger.Debug(fmt.Sprintf(format, args...)) }
	if o.trimEvery > 0 {
		go broker.RunTrimmer(ctx, kadm.NewClient(cl), cfg.Stream.ApplicationID, o.topics, o.trimEvery, debugf)
		fmt.Printf("Every %v, records consumer group %s has committed past are deleted.\n", o.trimEvery, cfg.Stream.ApplicationID)
	}
	if out := outputTopics(cfg); o.retention > 0 && len(out) > 0 {
		go broker.RunRetention(ctx, kadm.NewClient(cl), out, o.retention, max(min(o.retention, time.Minute), time.Second), debugf)
		fmt.Printf("Records of %s are kept for %v.\n", strings.Join(out, ", "), o.retention)
	}
	if o.metricsAddr != "" {
		srv, err := serveBrokerMetrics(o.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-address: %w", err)
		}
		defer srv.Close()
		fmt.Printf("Its own /metrics and /debug/pprof/ on http://%s.\n", o.metricsAddr)
	}
	fmt.Println("Ctrl-C stops.")
	<-ctx.Done()
	fmt.Println("kwindow broker: stopping")
	return nil
}

// serveBrokerMetrics serves the broker process's Go runtime and process metrics
// and pprof on addr: what a soak test samples to tell the broker's memory from
// the exporter's.
func serveBrokerMetrics(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}
