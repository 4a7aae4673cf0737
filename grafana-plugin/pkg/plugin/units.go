package plugin

import "strings"

// unitOf is the Grafana unit of a measure's values. kwindow keeps durations in
// seconds (events.value's unit is converted on the way in), so every value
// statistic and quantile is in seconds; the API does not describe another
// unit for an aggregation's values.
func unitOf(measure string) string {
	switch measure {
	case "count", "client_errors", "server_errors", "errors":
		return "short"
	case "rate":
		return "reqps"
	case "error_ratio", "client_error_ratio":
		return "percentunit"
	case "sum", "min", "max", "avg":
		return "s"
	}
	if strings.HasPrefix(measure, "p") || strings.HasPrefix(measure, "q") {
		return "s"
	}
	return ""
}
