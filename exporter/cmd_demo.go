package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/broker"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/loadgen"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

type demoOptions struct {
	brokerAddr  string
	partitions  int32
	rate        int
	duration    time.Duration
	aggregation string
	seed        int64
	stateDir    string
	quiet       bool
}

func addDemoCommand(app *kingpin.Application, g *globals) {
	var o demoOptions
	cmd := app.Command("demo", `Run everything in one process: an embedded Kafka-protocol broker on loopback, the load generator, and the exporter against them (exactly once, RocksDB state). Prints each closed window of one aggregation; /metrics, /readyz, /healthz and the query API (/api/v1) are served as by "run".`).Default()
	cmd.Flag("broker.address", "Loopback address of the embedded broker (port 0 picks a free one).").Default(broker.DefaultAddr).StringVar(&o.brokerAddr)
	cmd.Flag("partitions", "Partitions of the input topic.").Default("6").Int32Var(&o.partitions)
	cmd.Flag("rate", "Events per second the load generator sends.").Default("40000").IntVar(&o.rate)
	cmd.Flag("duration", "Stop after this long (0: until interrupted).").Default("0").DurationVar(&o.duration)
	cmd.Flag("aggregation", "Aggregation whose closed windows are printed (default: the first).").StringVar(&o.aggregation)
	cmd.Flag("seed", "Seed of the load generator.").Default("1").Int64Var(&o.seed)
	cmd.Flag("state.dir", "State directory (default: a temporary one, removed at exit: the embedded broker forgets everything too).").StringVar(&o.stateDir)
	cmd.Flag("quiet", "Do not print closed windows.").BoolVar(&o.quiet)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		return runDemo(cfg, g, o)
	})
}

func runDemo(cfg *config.Config, g *globals, o demoOptions) error {
	log := g.logger()
	show := 0
	if o.aggregation != "" {
		if show = slices.IndexFunc(cfg.Aggregations, func(a config.Aggregation) bool { return a.Name == o.aggregation }); show < 0 {
			return fmt.Errorf("--aggregation: no aggregation %q in the configuration", o.aggregation)
		}
	}
	if o.stateDir == "" {
		dir, err := os.MkdirTemp("", "kwindow-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.stateDir = dir
	}
	cfg.State.Dir = o.stateDir
	debugf := func(format string, args ...any) { log.Debug(fmt.Sprintf(format, args...)) }
	b, err := broker.Start(broker.Options{Addr: o.brokerAddr, Partitions: o.partitions, Topics: []string{cfg.Stream.InputTopic},
		Logf: debugf, Debugf: debugf})
	if err != nil {
		return fmt.Errorf("embedded broker: %w (is another Kafka on that port? try --broker.address=127.0.0.1:0)", err)
	}
	defer b.Close()
	cfg.Kafka.Brokers = []string{b.Addr()}
	cfg.Kafka.TLS, cfg.Kafka.SASL = nil, nil

	ctx, stop := signalContext()
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		return err
	}
	defer cl.Close()
	// The embedded broker keeps everything in memory: the input records the
	// exporter has committed go every demoTrimEvery, the output records after
	// demoRetention.
	adm := kadm.NewClient(cl)
	go broker.RunTrimmer(ctx, adm, cfg.Stream.ApplicationID, []string{cfg.Stream.InputTopic}, demoTrimEvery, debugf)
	go broker.RunRetention(ctx, adm, outputTopics(cfg), demoRetention, time.Minute, debugf)
	go func() {
		reports := 0
		_, err := loadgen.Produce(ctx, cl, loadgen.New(loadgen.Config{Seed: o.seed}), loadgen.ProduceOptions{
			Topic: cfg.Stream.InputTopic, Rate: o.rate,
			Progress: func(s loadgen.ProduceStats) {
				if reports++; reports%6 == 1 { // about every 30 s
					log.Info("load generator", "produced", s.Produced, "rate", int(s.Rate))
				}
			},
		})
		if err != nil && ctx.Err() == nil {
			log.Error("load generator stopped", "err", err)
		}
	}()
	listen := strings.Join(*g.web.WebListenAddresses, ", ")
	fmt.Printf(`kwindow demo: embedded broker on %s, %d events/s into %q (%d partitions), exactly once.
  live page  http://localhost%s/ui/
  metrics    http://localhost%s/metrics
  readiness  http://localhost%s/readyz
  query API  http://localhost%s/api/v1/query_range?aggregation=%s&measure=count,p99&step=5m
  kcat       kcat -b %s -C -t %s -o end   (final window results, kept for an hour)
Windows close at end + grace: the first %s results appear after about %s.
`, b.Addr(), o.rate, cfg.Stream.InputTopic, o.partitions, firstPort(listen), firstPort(listen), firstPort(listen), firstPort(listen), cfg.Aggregations[show].Name, b.Addr(), cfg.Stream.OutputTopic,
		cfg.Aggregations[show].Name, time.Duration(cfg.Aggregations[show].Window.Size+cfg.Aggregations[show].Grace))
	var p *printer
	if !o.quiet {
		p = newPrinter(&cfg.Aggregations[show], show)
		go p.run(ctx)
	}
	return serveStream(ctx, cfg, g, func(rs []stream.Result) {
		if p != nil {
			p.add(rs)
		}
	})
}

// The demo's embedded broker deletes the input records the exporter has
// committed every demoTrimEvery, and output records older than demoRetention.
const (
	demoTrimEvery = 5 * time.Second
	demoRetention = time.Hour
)

// outputTopics are the topics kwindow writes other than its changelogs: the
// results, dead-letter and late topics that are configured.
func outputTopics(cfg *config.Config) []string {
	var ts []string
	for _, t := range []string{cfg.Stream.OutputTopic, cfg.Stream.DeadLetterTopic, cfg.Stream.LateTopic} {
		if t != "" && t != "-" {
			ts = append(ts, t)
		}
	}
	return ts
}

func firstPort(listen string) string {
	addr, _, _ := strings.Cut(listen, ",")
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i:]
	}
	return addr
}

// printer collects the results of a window, one per key from the stage-2 task that
// owns it (the tasks close a window within an interval or two of each other), and
// prints the window once no result has arrived for it for a while. Should a key
// come twice it would be merged, not printed twice.
type printer struct {
	agg   *config.Aggregation
	index int
	mu    sync.Mutex
	wins  map[int64]*pending
}

type pending struct {
	end  int64
	last time.Time
	keys map[string]*aggregate.Aggregate
}

func newPrinter(agg *config.Aggregation, index int) *printer {
	return &printer{agg: agg, index: index, wins: map[int64]*pending{}}
}

func (p *printer) add(rs []stream.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rs {
		if r.Agg != p.index {
			continue
		}
		w := p.wins[r.Start]
		if w == nil {
			w = &pending{end: r.Value.End, keys: map[string]*aggregate.Aggregate{}}
			p.wins[r.Start] = w
		}
		w.last = time.Now()
		if a := w.keys[r.Group]; a != nil {
			a.Merge(r.Value.Agg)
		} else {
			w.keys[r.Group] = r.Value.Agg.Clone()
		}
	}
}

func (p *printer) run(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			p.mu.Lock()
			for start, w := range p.wins {
				if time.Since(w.last) > 2*time.Second {
					p.print(start, w)
					delete(p.wins, start)
				}
			}
			p.mu.Unlock()
		}
	}
}

func (p *printer) print(start int64, w *pending) {
	agg := p.agg
	fmt.Printf("\n%s  window %s – %s\n", agg.Name, fmtTime(start), fmtTime(w.end))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := strings.Join(agg.GroupBy, "\t") + "\tcount\t"
	if agg.Has(config.Errors) {
		head += "4xx\t5xx\t"
	}
	if agg.Has(config.ErrorRatio) {
		head += "5xx ratio\t"
	}
	for _, q := range agg.Quantiles {
		head += fmt.Sprintf("p%g\t", q*100)
	}
	fmt.Fprintln(tw, head)
	for _, g := range slices.Sorted(maps.Keys(w.keys)) {
		a := w.keys[g]
		vals, _ := store.SplitGroup([]byte(g))
		var line strings.Builder
		for _, v := range vals {
			line.WriteString(string(v) + "\t")
		}
		fmt.Fprintf(&line, "%d\t", a.Count)
		if agg.Has(config.Errors) {
			fmt.Fprintf(&line, "%d\t%d\t", a.ClientErrors, a.ServerErrors)
		}
		if agg.Has(config.ErrorRatio) {
			fmt.Fprintf(&line, "%.2f%%\t", a.ErrorRatio()*100)
		}
		for _, q := range agg.Quantiles {
			fmt.Fprintf(&line, "%s\t", fmtSeconds(a.Quantile(q)))
		}
		fmt.Fprintln(tw, line.String())
	}
	tw.Flush()
}

func fmtTime(ms int64) string { return time.UnixMilli(ms).UTC().Format("15:04:05") }

func fmtSeconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "-"
	case s >= 1:
		return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
	}
	return time.Duration(s * float64(time.Second)).Round(10 * time.Microsecond).String()
}
