package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
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
	cmd.Flag("trim-interval", "How often to delete the records of these topics that the configuration's consumer group (stream.application_id) has committed past, keeping memory bounded; 0 disables.").Default("1m").DurationVar(&o.trimEvery)
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
}

func runBroker(cfg *config.Config, logger *slog.Logger, o brokerOptions) error {
	if len(o.topics) == 0 {
		o.topics = []string{cfg.Stream.InputTopic}
	}
	b, err := broker.Start(broker.Options{
		Addr: o.addr, DataDir: o.dataDir, Partitions: o.partitions, Topics: o.topics,
		Logf: func(format string, args ...any) { logger.Warn(fmt.Sprintf(format, args...)) },
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
	if o.trimEvery > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			return err
		}
		defer cl.Close()
		go broker.RunTrimmer(ctx, kadm.NewClient(cl), cfg.Stream.ApplicationID, o.topics, o.trimEvery,
			func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) })
		fmt.Printf("Every %v, records consumer group %s has committed past are deleted.\n", o.trimEvery, cfg.Stream.ApplicationID)
	}
	fmt.Println("Ctrl-C stops.")
	<-ctx.Done()
	fmt.Println("kwindow broker: stopping")
	return nil
}
