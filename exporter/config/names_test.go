package config

import (
	"fmt"
	"strings"
	"testing"
)

// dimsConfig is a configuration with the given dimension names, the last one
// grouped by.
func dimsConfig(names ...string) string {
	var b strings.Builder
	b.WriteString("events:\n  value: {field: v}\n  status: {field: s}\n  dimensions:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "    - {name: %q, field: f}\n", n)
	}
	fmt.Fprintf(&b, "aggregations:\n  - name: a\n    group_by: [%q]\n    window: {type: tumbling, size: 1m}\n    quantiles: [0.5]\n    anomaly: {measures: [count]}\n", names[len(names)-1])
	return b.String()
}

// Every label kwindow or Prometheus sets beside the dimensions is refused as a
// dimension name, on the dimension's line, with the reason. TestReservedLabelsBreakMetrics
// (proof_test.go) shows what each would have done.
func TestReservedDimensionNames(t *testing.T) {
	f := func(name, reason string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(dimsConfig("endpoint", name)))
		want := fmt.Sprintf("config k.yml:6: events.dimensions[1].name: %q is reserved: %s", name, reason)
		if err == nil || err.Error() != want {
			t.Errorf("dimension %q: error\n%v\nwant\n%s", name, err, want)
		}
	}
	f("le", "kwindow adds the le label to histogram buckets")
	f("class", "kwindow adds the class label (client, server) to kwindow_<aggregation>_errors_total")
	f("quantile", "Prometheus reserves the quantile label for summaries (promtool check metrics flags it on any other metric)")
	f("measure", "kwindow adds the measure label to kwindow_<aggregation>_anomaly_score")
	f("aggregation", "kwindow's own metrics (kwindow_late_records_total and others) and alerts use the aggregation label to name an aggregation")
	f("instance", "Prometheus sets the instance label on every scraped series (the dimension would be renamed exported_instance, and the recording rules sum over instance)")
	f("job", "Prometheus sets the job label on every scraped series (the dimension would be renamed exported_job)")
	f("__name__", "label names starting with __ are Prometheus' own")
	f("__x", "label names starting with __ are Prometheus' own")
	f("__", "label names starting with __ are Prometheus' own")

	for _, bad := range []string{"", "1x", "a-b", "a.b", "é", "a b", "le\n"} {
		_, err := Parse("k.yml", []byte(dimsConfig("endpoint", bad)))
		want := fmt.Sprintf("config k.yml:6: events.dimensions[1].name: %q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", bad)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("dimension %q: error\n%v\nwant\n%s", bad, err, want)
		}
	}
	// Names that only look like reserved ones are fine: labels are case-sensitive,
	// and only the exact names and the __ prefix are taken.
	for _, ok := range []string{"Le", "LE", "le_", "_le", "partition", "partitions", "partition_id", "Class", "quantiles", "_", "_x", "x__", "job_name", "instance_id", "region"} {
		if _, err := Parse("k.yml", []byte(dimsConfig("endpoint", ok))); err != nil {
			t.Errorf("dimension %q refused: %v", ok, err)
		}
	}
}

// The label of the window quantile gauges, q, is refused only where kwindow adds
// it: in the group_by of an aggregation with quantiles.
func TestQuantileLabel(t *testing.T) {
	_, err := Parse("k.yml", []byte(dimsConfig("endpoint", "q")))
	want := `config k.yml:9: aggregations[0].group_by[0]: "q" is reserved in an aggregation with quantiles: kwindow adds the q label to kwindow_a_window_latency_seconds`
	if err == nil || err.Error() != want {
		t.Errorf("q grouped by with quantiles: error\n%v\nwant\n%s", err, want)
	}
	unitless := strings.Replace(dimsConfig("q"), "value: {field: v}", "value: {field: v, unit: none}", 1)
	_, err = Parse("k.yml", []byte(unitless))
	want = `config k.yml:8: aggregations[0].group_by[0]: "q" is reserved in an aggregation with quantiles: kwindow adds the q label to kwindow_a_window_value`
	if err == nil || err.Error() != want {
		t.Errorf("q grouped by with quantiles, unit none: error\n%v\nwant\n%s", err, want)
	}
	// Without quantiles, or defined but not grouped by: accepted, as before.
	for _, yml := range []string{
		strings.Replace(dimsConfig("endpoint", "q"), "    quantiles: [0.5]\n", "", 1),
		dimsConfig("q", "endpoint"),
	} {
		if _, err := Parse("k.yml", []byte(yml)); err != nil {
			t.Errorf("refused:\n%s\n%v", yml, err)
		}
	}
}

func TestAggregationNames(t *testing.T) {
	parse := func(names ...string) error {
		var b strings.Builder
		b.WriteString("aggregations:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  - {name: %q, group_by: [endpoint], window: {type: tumbling, size: 1m}, quantiles: [0.5]}\n", n)
		}
		_, err := Parse("k.yml", []byte(b.String()))
		return err
	}
	f := func(want string, names ...string) {
		t.Helper()
		if err := parse(names...); err == nil || err.Error() != want {
			t.Errorf("aggregations %q: error\n%v\nwant\n%s", names, err, want)
		}
	}
	// franz-go's client metrics are kwindow_kafka_*, names that vary with its
	// version: kwindow_kafka_connect_errors_total is one of them today.
	f(`config k.yml:2: aggregations[0].name: "kafka" is reserved: metric names starting with kwindow_kafka_ are franz-go's client metrics`, "kafka")
	f(`config k.yml:2: aggregations[0].name: "kafka_connect" is reserved: metric names starting with kwindow_kafka_ are franz-go's client metrics`, "kafka_connect")
	// Aggregation x exports the summary kwindow_x_window_latency_seconds,
	// aggregation x_window the histogram of the same name, in either order.
	f(`config k.yml:3: aggregations[1].name: "x_window" would export kwindow_x_window_latency_seconds, which is the metric kwindow_x_window_latency_seconds of aggregation "x" (aggregations[0])`,
		"x", "x_window")
	f(`config k.yml:3: aggregations[1].name: "x" would export kwindow_x_window_latency_seconds, which is the metric kwindow_x_window_latency_seconds of aggregation "x_window" (aggregations[0])`,
		"x_window", "x")
	// With unitless values (events.value.unit none) the pair still collides, on
	// kwindow_x_window_value.
	_, err := Parse("k.yml", []byte("events: {value: {field: v, unit: none}, dimensions: [{name: endpoint}]}\naggregations:\n"+
		"  - {name: x, group_by: [endpoint], window: {type: tumbling, size: 1m}, quantiles: [0.5]}\n"+
		"  - {name: x_window, group_by: [endpoint], window: {type: tumbling, size: 1m}, quantiles: [0.5]}\n"))
	if want := `config k.yml:4: aggregations[1].name: "x_window" would export kwindow_x_window_value, which is the metric kwindow_x_window_value of aggregation "x" (aggregations[0])`; err == nil || err.Error() != want {
		t.Errorf("x, x_window with unit none: error\n%v\nwant\n%s", err, want)
	}
	// A name given twice is reported once, as such.
	f(`config k.yml:3: aggregations[1].name: "a" would export kwindow_a_window_latency_seconds, which is the metric kwindow_a_window_latency_seconds of aggregation "a_window" (aggregations[0])`+
		"\n"+`config k.yml:4: aggregations[2].name: aggregation "a" defined twice`, "a_window", "a", "a")
	// Names that are near kwindow's own metrics but make different ones.
	for _, ok := range []string{"records", "commit", "restore", "store", "window", "stream", "late", "kafkaesque", "kwindow", "x_1m", "build", "A", "_"} {
		if err := parse(ok); err != nil {
			t.Errorf("aggregation %q refused: %v", ok, err)
		}
	}
	if err := parse("a", "a_1m", "b"); err != nil {
		t.Errorf("a, a_1m, b refused: %v", err)
	}
}

// An aggregation's changelog topic is <application_id>-<name>-changelog, which
// Kafka accepts up to 249 characters.
func TestChangelogTopicLength(t *testing.T) {
	app := strings.Repeat("p", 200)
	f := func(nameLen int) error {
		name := strings.Repeat("n", nameLen)
		_, err := Parse("k.yml", []byte(fmt.Sprintf("stream: {application_id: %s}\naggregations:\n  - {name: %s, window: {type: tumbling, size: 1m}}\n", app, name)))
		return err
	}
	// 200 + 1 + 38 + 10 = 249.
	if err := f(38); err != nil {
		t.Errorf("changelog topic of 249 characters refused: %v", err)
	}
	want := fmt.Sprintf("config k.yml:3: aggregations[0].name: makes the changelog topic %s-%s-changelog, 250 characters long; Kafka allows 249", app, strings.Repeat("n", 39))
	if err := f(39); err == nil || err.Error() != want {
		t.Errorf("changelog topic of 250 characters: error\n%v\nwant\n%s", err, want)
	}
}

func TestTopicClashes(t *testing.T) {
	f := func(stream, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte("aggregations: [{name: a, window: {type: tumbling, size: 1m}}]\nstream: "+stream+"\n"))
		if want == "" {
			if err != nil {
				t.Errorf("stream %s refused: %v", stream, err)
			}
			return
		}
		if err == nil || err.Error() != want {
			t.Errorf("stream %s: error\n%v\nwant\n%s", stream, err, want)
		}
	}
	f("{input_topic: in, dead_letter_topic: in}",
		"config k.yml:2: stream.dead_letter_topic: topic in is the input topic: kwindow would read back what it writes")
	f("{input_topic: in, output_topic: in}",
		"config k.yml:2: stream.output_topic: topic in is the input topic: kwindow would read back what it writes")
	f("{input_topic: in, late_topic: in}",
		"config k.yml:2: stream.late_topic: topic in is the input topic: kwindow would read back what it writes")
	f("{input_topic: kwindow-a-changelog}",
		"config k.yml:1: aggregations[0].name: topic kwindow-a-changelog is the input topic: kwindow would read back what it writes")
	f("{input_topic: my.events, output_topic: my_events}",
		"config k.yml:2: stream.output_topic: topic my_events collides with (Kafka treats . and _ in topic names alike) the input topic: kwindow would read back what it writes")
	f("{output_topic: out, dead_letter_topic: out}",
		"config k.yml:2: stream.dead_letter_topic: topic out is stream.output_topic")
	f("{output_topic: kwindow-a-changelog}",
		"config k.yml:1: aggregations[0].name: topic kwindow-a-changelog is stream.output_topic")
	f("{late_topic: out, output_topic: out}",
		"config k.yml:2: stream.late_topic: topic out is stream.output_topic")
	// Dead letters and late records are both input copies with headers that say
	// why: one topic may take both.
	f("{late_topic: copies, dead_letter_topic: copies}", "")
	f("{output_topic: '-', dead_letter_topic: x}", "")
	for _, bad := range []string{`"."`, `".."`, `""`, "a/b", "a b", strings.Repeat("t", 250)} {
		_, err := Parse("k.yml", []byte("stream: {input_topic: "+bad+"}\n"))
		if err == nil || !strings.Contains(err.Error(), "stream.input_topic:") {
			t.Errorf("input topic %s: error %v", bad, err)
		}
	}
	if _, err := Parse("k.yml", []byte("stream: {input_topic: "+strings.Repeat("t", 249)+"}\n")); err != nil {
		t.Errorf("input topic of 249 characters: %v", err)
	}
}
