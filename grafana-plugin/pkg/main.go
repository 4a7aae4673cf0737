// Command gpx_kwindow is the backend of kwindow's Grafana data source: Grafana
// starts it as a plugin process and calls it over gRPC (grafana-plugin-sdk-go).
// It talks to kwindow's query API only, through exporter/api/client, so it
// builds with CGO_ENABLED=0 and links no RocksDB.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/kwindow/kwindow/grafana-plugin/pkg/plugin"
)

// Set by the Makefile's -ldflags.
var (
	version  = "dev"
	revision = ""
)

func main() {
	log.DefaultLogger.Info("kwindow data source starting", "version", version, "revision", revision)
	if err := datasource.Manage(plugin.ID, plugin.Factory(version), datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("kwindow data source stopped", "error", err)
		os.Exit(1)
	}
}
