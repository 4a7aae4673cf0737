package main

import (
	"context"
	"fmt"
	"github.com/alecthomas/kingpin/v2"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/loadgen"
	"github.com/kwindow/kwindow/exporter/store"
)

func addDemoCommand(app *kingpin.Application, g *globals) {
	var o demoOptions
	cmd := app.Command("demo", "Run the engine on generated request logs and print every closed window of one aggregation.").Default()
	cmd.Flag("rate", "Events per second to generate.").Default("40000").IntVar(&o.rate)
	cmd.Flag("speed", "Event time runs this many times faster than the wall clock (60: a 1m window closes every second).").Default("1").Float64Var(&o.speed)
	cmd.Flag("duration", "Stop after this long (0: until interrupted).").Default("0").DurationVar(&o.duration)
	cmd.Flag("aggregation", "Aggregation whose closed windows are printed (default: the first).").StringVar(&o.aggregation)
	cmd.Flag("seed", "Seed of the load generator.").Default("1").Int64Var(&o.seed)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		return runDemo(cfg, o)
	})
}

type demoOptions struct {
	rate        int
	speed       float64
	duration    time.Duration
	aggregation string
	seed        int64
}

// runDemo generates request logs in real time, runs them through the decoder and
// the engine exactly as the stream runtime does, and prints each closed window.
func runDemo(cfg *config.Config, o demoOptions) error {
	if o.rate <= 0 || !(o.speed > 0) {
		return fmt.Errorf("--rate and --speed must be > 0")
	}
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		return err
	}
	eng := engine.New(cfg)
	show := 0
	if o.aggregation != "" {
		if show = eng.Aggregation(o.aggregation); show < 0 {
			return fmt.Errorf("--aggregation: no aggregation %q in the configuration", o.aggregation)
		}
	}
	agg := &cfg.Aggregations[show]
	gen := loadgen.New(loadgen.Config{Seed: o.seed})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	fmt.Printf("kwindow demo: %d events/s, event time x%g; printing %s (%s window %s, grace %s). Ctrl-C stops.\n",
		o.rate, o.speed, agg.Name, agg.Window.Type, agg.Window.Size, agg.Grace)

	const tick = 10 * time.Millisecond
	start := time.Now()
	startMs := start.UnixMilli()
	eventTime := func(now time.Time) int64 { return startMs + int64(float64(now.Sub(start).Milliseconds())*o.speed) }
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var (
		ev            event.Event
		buf           []byte
		sent, invalid int64
		lastFlush     = start
		lastProgress  = start
		progressEvery = 10 * time.Second
		tickDur, owed = float64(tick) / float64(time.Second), 0.0
	)
	for {
		select {
		case <-ctx.Done():
			fmt.Printf("stopped after %d events (%d invalid)\n", sent, invalid)
			return nil
		case now := <-ticker.C:
			owed += float64(o.rate) * tickDur
			n := int(owed)
			owed -= float64(n)
			from, to := eventTime(now.Add(-tick)), eventTime(now)
			dec.SetNow(to)
			for i := 0; i < n; i++ {
				t := from + int64(i)*(to-from)/int64(max(n, 1))
				buf = gen.AppendJSON(buf[:0], gen.Next(t))
				if err := dec.Decode(buf, &ev); err != nil {
					invalid++
					continue
				}
				eng.Process(&ev)
				sent++
			}
			if now.Sub(lastFlush) >= 100*time.Millisecond {
				lastFlush = now
				f := eng.Flush()
				printClosed(cfg, agg, show, f)
			}
			if now.Sub(lastProgress) >= progressEvery {
				lastProgress = now
				s := eng.Stats(show)
				fmt.Printf("… %d events (%.0f/s), %d keys and %d windows open in %s, %d late\n",
					sent, float64(sent)/now.Sub(start).Seconds(), s.Keys, s.Windows, agg.Name, s.Late)
			}
		}
	}
}

func printClosed(cfg *config.Config, agg *config.Aggregation, show int, f *engine.Flush) {
	var rows []engine.Change
	for _, c := range f.Closed {
		if c.Agg == show {
			rows = append(rows, c)
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortFunc(rows, func(a, b engine.Change) int {
		if a.Start != b.Start {
			return int(a.Start - b.Start)
		}
		return strings.Compare(a.Group, b.Group)
	})
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	last := int64(math.MinInt64)
	for _, r := range rows {
		if r.Start != last {
			last = r.Start
			tw.Flush()
			fmt.Printf("\n%s  window %s – %s\n", agg.Name, fmtTime(r.Start), fmtTime(r.Value.End))
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
		}
		vals, _ := store.SplitGroup([]byte(r.Group))
		a := r.Value.Agg
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
	if math.IsNaN(s) {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(10 * time.Microsecond).String()
}
