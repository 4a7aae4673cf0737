package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/kafka"
	"github.com/kwindow/kwindow/exporter/loadgen"
)

func addLoadgenCommand(app *kingpin.Application, g *globals) {
	var o loadgenOptions
	cmd := app.Command("loadgen", "Produce generated request-log events to a Kafka topic at a steady rate, with optional incidents.")
	cmd.Flag("brokers", "Seed broker host:port (repeatable). Default: the configuration's kafka.brokers, whose TLS and SASL settings are used either way.").StringsVar(&o.brokers)
	cmd.Flag("topic", "Topic to produce to. Default: the configuration's stream.input_topic.").StringVar(&o.topic)
	cmd.Flag("rate", "Events per second; above what one producer sustains, it runs flat out and reports its maximum.").Default("40000").IntVar(&o.rate)
	cmd.Flag("duration", "Stop after this long (0: until interrupted).").Default("0").DurationVar(&o.duration)
	cmd.Flag("total", "Stop after this many events (0: no limit).").Default("0").Int64Var(&o.total)
	cmd.Flag("endpoints", "Cardinality: N > 0 draws from N synthetic endpoints /api/e0000 … of equal shares, the i-th with the method, latency and status mix of the "+
		"i mod 8-th default endpoint, so that each adds a key to every aggregation grouped by endpoint (the default configuration holds about 11.4 keys per endpoint). "+
		"0: the default 8 endpoints and their shares.").Default("0").IntVar(&o.endpoints)
	cmd.Flag("seed", "Seed of the generator: the same seed draws the same events.").Default("1").Int64Var(&o.seed)
	cmd.Flag("incident", "KIND:ENDPOINT:START_OFFSET:DURATION[:RATE_OR_FACTOR] (repeatable): from START_OFFSET after the start, for DURATION, "+
		"error_spike raises ENDPOINT's 5xx rate to RATE (default 0.5) and latency_spike multiplies its latencies by FACTOR (default 10). "+
		"An empty ENDPOINT or * means every endpoint. E.g. error_spike:/api/checkout:2m:1m:0.5, latency_spike:/api/search:5m:2m:10.").
		PlaceHolder("KIND:ENDPOINT:START:DURATION[:X]").StringsVar(&o.incidents)
	cmd.Flag("create-topic", "Create the topic if it does not exist.").BoolVar(&o.createTopic)
	cmd.Flag("partitions", "Partitions of the topic --create-topic creates.").Default("6").Int32Var(&o.partitions)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		return runLoadgen(cfg, o)
	})
}

type loadgenOptions struct {
	brokers     []string
	topic       string
	rate        int
	duration    time.Duration
	total       int64
	seed        int64
	endpoints   int
	incidents   []string
	createTopic bool
	partitions  int32
}

func runLoadgen(cfg *config.Config, o loadgenOptions) error {
	if o.rate <= 0 {
		return fmt.Errorf("--rate must be > 0, got %d", o.rate)
	}
	if o.partitions <= 0 {
		return fmt.Errorf("--partitions must be > 0, got %d", o.partitions)
	}
	start := time.Now()
	if o.endpoints < 0 || o.endpoints > loadgen.MaxEndpoints {
		return fmt.Errorf("--endpoints: want 0 (the default profile) to %d, got %d", loadgen.MaxEndpoints, o.endpoints)
	}
	gcfg := loadgen.Config{Seed: o.seed, Endpoints: o.endpoints}
	for _, s := range o.incidents {
		inc, err := parseIncident(s, start.UnixMilli(), gcfg.EndpointProfiles())
		if err != nil {
			return err
		}
		gcfg.Incidents = append(gcfg.Incidents, inc)
	}
	if err := gcfg.Validate(); err != nil {
		return fmt.Errorf("--incident: %w", err)
	}
	k := cfg.Kafka
	if len(o.brokers) > 0 {
		k.Brokers = o.brokers
	}
	if o.topic == "" {
		o.topic = cfg.Stream.InputTopic
	}
	opts, err := kafka.ClientOpts(k)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := loadgenTopic(ctx, cl, k.Brokers, cfg, o); err != nil {
		return err
	}
	fmt.Printf("kwindow loadgen: %d events/s to %s on %s, seed %d", o.rate, o.topic, strings.Join(k.Brokers, ","), o.seed)
	if o.endpoints > 0 {
		fmt.Printf(", %d synthetic endpoints", o.endpoints)
	}
	if o.duration > 0 {
		fmt.Printf(", for %v", o.duration)
	}
	if o.total > 0 {
		fmt.Printf(", %d events", o.total)
	}
	fmt.Println(". Ctrl-C stops.")
	for _, inc := range gcfg.Incidents {
		ep := inc.Endpoint
		if ep == "" {
			ep = "every endpoint"
		}
		what := fmt.Sprintf("5xx rate %g", inc.ErrorRate)
		if inc.Kind == loadgen.LatencySpike {
			what = fmt.Sprintf("latency x%g", inc.LatencyFactor)
		}
		fmt.Printf("  incident: %s on %s from %s to %s (%s)\n", inc.Kind, ep,
			time.UnixMilli(inc.Start).Format(time.TimeOnly), time.UnixMilli(inc.End).Format(time.TimeOnly), what)
	}

	st, err := loadgen.Produce(ctx, cl, loadgen.New(gcfg), loadgen.ProduceOptions{
		Topic: o.topic, Rate: o.rate, Duration: o.duration, Total: o.total,
		Progress: func(s loadgen.ProduceStats) {
			fmt.Printf("… %d events produced in %v (%.0f/s)%s\n", s.Produced, s.Elapsed.Round(time.Second), s.Rate, failedNote(s))
		},
	})
	fmt.Printf("kwindow loadgen: %d events produced in %v (%.0f/s)%s\n", st.Produced, st.Elapsed.Round(time.Millisecond), st.Rate, failedNote(st))
	return err
}

func failedNote(s loadgen.ProduceStats) string {
	if s.Failed == 0 {
		return ""
	}
	return fmt.Sprintf(", %d failed", s.Failed)
}

// loadgenTopic checks that the topic exists, creating it with --create-topic.
func loadgenTopic(ctx context.Context, cl *kgo.Client, brokers []string, cfg *config.Config, o loadgenOptions) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	n, err := kafka.PartitionCount(ctx, adm, o.topic)
	switch {
	case err == nil:
		fmt.Printf("topic %s has %d partitions\n", o.topic, n)
		return nil
	case !errors.Is(err, kafka.ErrNoTopic):
		return fmt.Errorf("%w (is a broker running at %s? kwindow broker starts one)", err, strings.Join(brokers, ","))
	case !o.createTopic:
		return fmt.Errorf("%w (pass --create-topic to create it)", err)
	}
	spec := kafka.TopicSpec{Name: o.topic, Partitions: o.partitions}
	if err := kafka.EnsureTopics(ctx, adm, cfg.Stream.ReplicationFactor, spec); err != nil {
		return err
	}
	fmt.Printf("created topic %s with %d partitions\n", o.topic, o.partitions)
	return nil
}

const incidentFormat = "KIND:ENDPOINT:START_OFFSET:DURATION[:RATE_OR_FACTOR], e.g. error_spike:/api/checkout:2m:1m:0.5"

// parseIncident parses an --incident value; offsets count from startMs, and
// its endpoint must be one of eps.
func parseIncident(s string, startMs int64, eps []loadgen.EndpointProfile) (loadgen.Incident, error) {
	bad := func(format string, args ...any) (loadgen.Incident, error) {
		return loadgen.Incident{}, fmt.Errorf("--incident %q: %s", s, fmt.Sprintf(format, args...))
	}
	f := strings.Split(s, ":")
	if len(f) != 4 && len(f) != 5 {
		return bad("want %s", incidentFormat)
	}
	inc := loadgen.Incident{Kind: f[0], Endpoint: f[1], ErrorRate: 0.5, LatencyFactor: 10}
	if inc.Kind != loadgen.ErrorSpike && inc.Kind != loadgen.LatencySpike {
		return bad("kind %q: want %s or %s", inc.Kind, loadgen.ErrorSpike, loadgen.LatencySpike)
	}
	if inc.Endpoint == "*" {
		inc.Endpoint = ""
	}
	if inc.Endpoint != "" && !slices.ContainsFunc(eps, func(e loadgen.EndpointProfile) bool { return e.Path == inc.Endpoint }) {
		return bad("endpoint %q: want one of %s, or * for all", inc.Endpoint, endpointList(eps))
	}
	offset, err := time.ParseDuration(f[2])
	if err != nil || offset < 0 {
		return bad("start offset %q: want a duration >= 0 after the start, such as 2m", f[2])
	}
	d, err := time.ParseDuration(f[3])
	if err != nil || d <= 0 {
		return bad("duration %q: want a duration > 0, such as 1m", f[3])
	}
	inc.Start = startMs + offset.Milliseconds()
	inc.End = inc.Start + d.Milliseconds()
	if len(f) == 5 {
		x, err := strconv.ParseFloat(f[4], 64)
		switch {
		case inc.Kind == loadgen.ErrorSpike && (err != nil || !(x >= 0 && x <= 1)):
			return bad("5xx rate %q: want a number in [0, 1]", f[4])
		case inc.Kind == loadgen.LatencySpike && (err != nil || !(x > 0) || math.IsInf(x, 0)):
			return bad("latency factor %q: want a number > 0", f[4])
		case inc.Kind == loadgen.ErrorSpike:
			inc.ErrorRate = x
		default:
			inc.LatencyFactor = x
		}
	}
	return inc, nil
}

// endpointList names the endpoints of eps, the first and last few of a long list.
func endpointList(eps []loadgen.EndpointProfile) string {
	var paths []string
	for i, e := range eps {
		if len(eps) > 10 && i == 4 {
			paths = append(paths, "…")
		}
		if len(eps) <= 10 || i < 4 || i >= len(eps)-4 {
			paths = append(paths, e.Path)
		}
	}
	return strings.Join(paths, ", ")
}
