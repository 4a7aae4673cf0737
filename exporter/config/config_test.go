package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/window"
)

func TestDefault(t *testing.T) {
	c := Default()
	if got := len(c.Aggregations); got != 3 {
		t.Fatalf("%d default aggregations, want 3", got)
	}
	want := []struct {
		name    string
		groupBy string
		spec    window.Spec
	}{
		{"endpoint_1m", "endpoint", window.Spec{Kind: window.Tumbling, Size: 60000, Grace: 10000, Retention: 86400000}},
		{"status_5m", "endpoint,status", window.Spec{Kind: window.Hopping, Size: 300000, Advance: 60000, Grace: 10000, Retention: 86400000}},
		{"region_1m", "region", window.Spec{Kind: window.Tumbling, Size: 60000, Grace: 10000, Retention: 86400000}},
	}
	for i, w := range want {
		a := &c.Aggregations[i]
		if a.Name != w.name || strings.Join(a.GroupBy, ",") != w.groupBy || a.WindowSpec() != w.spec {
			t.Errorf("aggregation %d = %s by %v %+v, want %s by %s %+v", i, a.Name, a.GroupBy, a.WindowSpec(), w.name, w.groupBy, w.spec)
		}
	}
	if !c.Aggregations[0].Has(ErrorRatio) || c.Aggregations[1].NeedsValue() || len(c.Aggregations[2].Quantiles) != 3 {
		t.Errorf("default measures wrong: %+v", c.Aggregations)
	}
	s := c.EventSchema()
	if s.ValueScale != 0.001 || !s.ValueRequired || len(s.Dimensions) != 4 || s.MaxFutureSkew != time.Hour.Milliseconds() {
		t.Errorf("default event schema %+v", s)
	}
	if got := c.DimensionIndexes(&c.Aggregations[1]); len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("status_5m dimension indexes %v, want [0 2]", got)
	}
}

// An empty file, and one with only an events section, take the example's defaults.
func TestDefaultsFill(t *testing.T) {
	c, err := Parse("empty.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Aggregations) != 3 || c.Events == nil || *c.Sketch.Schema != 6 {
		t.Fatalf("empty config not defaulted: %+v", c)
	}
	// The example's units, not the generic defaults (auto, s): latency_ms is in ms.
	if s := c.EventSchema(); s.ValueScale != 0.001 || s.TimestampUnit != event.TimeMillis {
		t.Errorf("empty config: value scale %v, timestamp unit %v; want 0.001, ms", s.ValueScale, s.TimestampUnit)
	}
	c, err = Parse("metrics.yml", []byte(`
events:
  timestamp: {field: ts}
  value: {field: value, unit: none, allow_negative: true}
  dimensions: [{name: host, field: labels.host}]
aggregations:
  - name: host_10s
    group_by: [host]
    window: {type: tumbling, size: 10s}
    quantiles: [0.9]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Aggregations[0]
	if got := strings.Join(a.Measures, ","); got != "count,sum,min,max" {
		t.Errorf("measures defaulted to %s, want count,sum,min,max (no status field)", got)
	}
	if a.Retention != Duration(24*time.Hour) {
		t.Errorf("retention defaulted to %v, want 24h", a.Retention)
	}
	s := c.EventSchema()
	if s.Dimensions[0].Path.String() != "labels.host" || s.ValueScale != 1 || s.Status != nil || !s.AllowNegative {
		t.Errorf("schema %+v", s)
	}
}

func TestErrors(t *testing.T) {
	f := func(yml string, want ...string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(yml))
		if err == nil {
			t.Fatalf("no error for:\n%s", yml)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q\ndoes not contain %q", err, w)
			}
		}
	}
	agg := func(lines string) string {
		return "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n" + lines
	}
	// These two said "line 3: field windw not found in type config.Aggregation" and
	// "line 4: ..." without the file or the field's path; issue 7 (item 14) asks
	// for the path, the file:line and a suggestion, never a Go type.
	f("aggregations:\n  - name: a\n    windw: {}\n", "k.yml:3: aggregations[0].windw: unknown field; did you mean window?")
	f(agg("    grace: soon\n"), `k.yml:4: aggregations[0].grace: "soon" is not a duration like 30s, 1m or 1h30m`)
	f("aggregations:\n  - name: a\n    window: {type: tumbling, size: 0s}\n",
		"k.yml:3: aggregations[0].window.size: must be > 0, got 0s")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: 2m}\n",
		"k.yml:3: aggregations[0].window.advance: must be > 0 and <= size (1m0s), got 2m0s")
	f("aggregations:\n  - name: a\n    window:\n      type: weekly\n",
		`k.yml:4: aggregations[0].window.type: unknown window type "weekly"`)
	f(agg("    retention: 30s\n"), "k.yml:4: aggregations[0].retention: must be >= window size + grace (1m0s), got 30s")
	f(agg("    group_by: [endpoint, colour]\n"), `k.yml:4: aggregations[0].group_by[1]: unknown dimension "colour"`)
	f(agg("    measures: [count, p99]\n"), `k.yml:4: aggregations[0].measures[1]: unknown measure "p99"`)
	f(agg("    quantiles: [0.5, 99]\n"), "k.yml:4: aggregations[0].quantiles[1]: must be between 0 and 1, got 99")
	f("aggregations:\n  - name: a-b\n    window: {type: tumbling, size: 1m}\n  - name: a-b\n",
		`k.yml:2: aggregations[0].name: "a-b" is not a valid`, `k.yml:4: aggregations[1].name`)
	f("events:\n  dimensions: [{name: x}]\naggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    measures: [errors]\n",
		`k.yml:6: aggregations[0].measures[0]: measure "errors" needs events.status`)
	f("events:\n  value: {field: v, unit: hours}\n", `k.yml:2: events.value.unit: unknown unit "hours"`)
	f("events:\n  status: {field: s, server_errors: [\"599-500\"]}\n", `events.status.server_errors[0]: "599-500" is not a status range`)
	f("sketch: {schema: 9}\n", "k.yml:1: sketch.schema: must be between -4 and 8, got 9")
	f("aggregations: []\n", "aggregations: at least one aggregation is needed")
}

// `kwindow config example` prints a file that parses, and whose every value is
// the default: it parses to what an empty file does.
func TestExampleRoundTrip(t *testing.T) {
	ex, err := Parse("kwindow.example.yml", Example())
	if err != nil {
		t.Fatal(err)
	}
	empty, err := Parse("empty.yml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ex, empty) {
		a, _ := yaml.Marshal(ex)
		b, _ := yaml.Marshal(empty)
		t.Errorf("the example is not the defaults:\nexample:\n%s\nempty file:\n%s", a, b)
	}
}
