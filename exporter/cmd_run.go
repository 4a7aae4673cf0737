package main

import (
	"fmt"

	"github.com/alecthomas/kingpin/v2"
)

func addRunCommand(app *kingpin.Application, g *globals) {
	cmd := app.Command("run", `Run the exporter: consume the input topic of the brokers in the configuration, compute the aggregations with exactly-once state, and serve /metrics, /readyz and /healthz.`)
	var pprofAddr string
	cmd.Flag("debug.pprof-address", "host:port on which to serve Go's profiles (/debug/pprof/: heap, CPU, goroutines) for profiling the exporter, loopback addresses only, without authentication; empty (the default): none.").StringVar(&pprofAddr)
	cmd.Action(func(*kingpin.ParseContext) error {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		if pprofAddr != "" {
			srv, err := servePprof(pprofAddr)
			if err != nil {
				return fmt.Errorf("--debug.pprof-address: %w", err)
			}
			defer srv.Close()
		}
		ctx, stop := signalContext()
		defer stop()
		return serveStream(ctx, cfg, g, nil)
	})
}
