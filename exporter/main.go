// Command kwindow computes event-time windowed aggregates (counts, error ratios,
// latency percentiles) over a stream of events and serves them to Prometheus and
// Grafana.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"

	"github.com/kwindow/kwindow/exporter/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	app := kingpin.New("kwindow", "Event-time windowed aggregates (counts, 4xx/5xx error ratios, P50/P95/P99) over a stream of events, for Prometheus and Grafana.")
	app.Version(version)
	app.HelpFlag.Short('h')

	configFile := app.Flag("config.file", "YAML configuration file; the built-in example (kwindow config example) when empty.").String()

	demoCmd := app.Command("demo", "Run the engine on generated request logs and print every closed window of one aggregation.").Default()
	var demo demoOptions
	demoCmd.Flag("rate", "Events per second to generate.").Default("40000").IntVar(&demo.rate)
	demoCmd.Flag("speed", "Event time runs this many times faster than the wall clock (60: a 1m window closes every second).").Default("1").Float64Var(&demo.speed)
	demoCmd.Flag("duration", "Stop after this long (0: until interrupted).").Default("0").DurationVar(&demo.duration)
	demoCmd.Flag("aggregation", "Aggregation whose closed windows are printed (default: the first).").StringVar(&demo.aggregation)
	demoCmd.Flag("seed", "Seed of the load generator.").Default("1").Int64Var(&demo.seed)

	configCmd := app.Command("config", "Configuration helpers.")
	configExample := configCmd.Command("example", "Print the annotated example configuration (the defaults).")
	configCheck := configCmd.Command("check", "Validate a configuration file and exit.")
	checkFile := configCheck.Arg("file", "Configuration file.").Required().ExistingFile()

	cmd := kingpin.MustParse(app.Parse(os.Args[1:]))
	switch cmd {
	case configExample.FullCommand():
		os.Stdout.Write(config.Example())
		return
	case configCheck.FullCommand():
		if _, err := config.LoadFile(*checkFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%s: ok\n", *checkFile)
		return
	}
	cfg, err := loadConfig(*configFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if cmd == demoCmd.FullCommand() {
		if err := runDemo(cfg, demo); err != nil {
			fmt.Fprintln(os.Stderr, "kwindow:", err)
			os.Exit(1)
		}
	}
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.LoadFile(path)
}
