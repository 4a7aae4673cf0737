package plugin

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

var legendVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}`)

// legend renders a legend format: {{dim}} is the series' value of a
// dimension, {{measure}} the measure; a name the series does not have renders
// empty, as in Prometheus' data source.
func legend(format string, labels map[string]string, measure string) string {
	return legendVar.ReplaceAllStringFunc(format, func(m string) string {
		name := legendVar.FindStringSubmatch(m)[1]
		if name == "measure" {
			return measure
		}
		return labels[name]
	})
}

// labelString writes labels as a Prometheus selector, {a="x", b="y"} sorted by
// name: the "labels" column of the live layout, which Grafana's streaming
// frames parse back into labels.
func labelString(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n + "=" + strconv.Quote(labels[n]))
	}
	b.WriteByte('}')
	return b.String()
}

// fieldLabels returns a copy of labels as a field's labels (nil for none).
func fieldLabels(labels map[string]string) data.Labels {
	if len(labels) == 0 {
		return nil
	}
	l := make(data.Labels, len(labels))
	for k, v := range labels {
		l[k] = v
	}
	return l
}
