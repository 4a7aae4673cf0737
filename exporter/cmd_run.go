package main

import (
	"github.com/alecthomas/kingpin/v2"
)

func addRunCommand(app *kingpin.Application, g *globals) {
	cmd := app.Command("run", `Run the exporter: consume the input topic of the brokers in the configuration, compute the aggregations with exactly-once state, and serve /metrics, /readyz and /healthz.`)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		ctx, stop := signalContext()
		defer stop()
		return serveStream(ctx, cfg, g, nil)
	})
}
