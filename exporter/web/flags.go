package web

import (
	"github.com/alecthomas/kingpin/v2"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
)

// DefaultListenAddress is the default of --web.listen-address.
//
// Prometheus keeps a wiki list of default ports (9100-9999, now full) so that
// exporters on one host do not collide. 9897 is clear of everything kwindow is
// deployed next to: Prometheus 9090, Pushgateway 9091, Kafka 9092, Alertmanager 9093,
// node_exporter 9100, kafka_exporter 9308, the OpenTelemetry Prometheus exporter
// 9464, Grafana 3000. It is not registered on that list for kwindow yet.
const DefaultListenAddress = ":9897"

// FlagConfig is exporter-toolkit's listener configuration, as AddFlags fills it in
// and Serve reads it; the alias spares callers importing a second package named web.
type FlagConfig = toolkitweb.FlagConfig

// AddFlags adds exporter-toolkit's standard web flags to app, as every Prometheus
// exporter has them:
//
//	--web.listen-address   address to listen on, repeatable (default :9897);
//	                       "vsock://:PORT" listens on a VM socket
//	--web.config.file      exporter-toolkit web configuration file: TLS
//	                       (tls_server_config), basic auth (basic_auth_users, bcrypt
//	                       hashes), HTTP headers and rate limiting; plain HTTP when empty
//	--web.systemd-socket   serve on the sockets systemd passes instead of listening
//	                       (Linux only)
//
// The values are read when Serve is called, after app.Parse.
func AddFlags(app *kingpin.Application) *FlagConfig {
	return kingpinflag.AddFlags(app, DefaultListenAddress)
}
