// Command kwindow computes event-time windowed aggregates (counts, error ratios,
// latency percentiles) over a Kafka stream of events and serves them to Prometheus
// and Grafana. Each subcommand lives in its own file (cmd_*.go).
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	promversion "github.com/prometheus/common/version"

	"github.com/alecthomas/kingpin/v2"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/web"
)

// version and revision are set at build time (make build) with
// -ldflags "-X main.version=... -X main.revision=...".
var version, revision = "dev", ""

// globals are the flags every command shares.
type globals struct {
	configFile string
	web        *web.FlagConfig
	logConfig  *promslog.Config
	log        *slog.Logger
}

// config loads the configuration named by --config.file, or the built-in default.
func (g *globals) config() (*config.Config, error) {
	if g.configFile == "" {
		return config.Default(), nil
	}
	return config.LoadFile(g.configFile)
}

func main() {
	promversion.Version, promversion.Revision = version, revision // kwindow_build_info
	app := kingpin.New("kwindow", "Event-time windowed aggregates (counts, 4xx/5xx error ratios, P50/P95/P99) over a Kafka stream of events, served to Prometheus and Grafana.")
	app.Version(version)
	app.HelpFlag.Short('h')
	g := &globals{}
	app.Flag("config.file", "YAML configuration file; the built-in example (kwindow config example) when empty.").StringVar(&g.configFile)
	g.web = web.AddFlags(app)
	g.logConfig = &promslog.Config{}
	promslogflag.AddFlags(app, g.logConfig)
	app.PreAction(func(*kingpin.ParseContext) error {
		g.log = promslog.New(g.logConfig)
		return nil
	})

	addRunCommand(app, g)
	addBrokerCommand(app, g)
	addLoadgenCommand(app, g)
	addDemoCommand(app, g)
	addConfigCommand(app, g)

	if _, err := app.Parse(os.Args[1:]); err != nil {
		// A configuration error lists every problem, one per line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(os.Stderr, "kwindow:", line)
		}
		os.Exit(1)
	}
}
