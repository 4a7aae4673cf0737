package config

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A file with many problems gets them all at once, one line each, in line order,
// each with file:line and the field's path. The expected text is written out by
// hand from the file below.
func TestErrorsAllAtOnce(t *testing.T) {
	yml := `events:
  dimensions:
    - name: endpoint
    - name: le
  max_future_skew: 0s
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: -1m}
    retension: 24h
    grace: soon
    max_keys: many
  - name: b
    window: {type: tumbling, size: 1m}
    measures: count
stream:
  commit_interval: 0s
kafka:
  fetch_max_wait: 5ms
`
	want := `config k.yml:4: events.dimensions[1].name: "le" is reserved: kwindow adds the le label to histogram buckets
config k.yml:5: events.max_future_skew: must be > 0, got 0s
config k.yml:9: aggregations[0].window.size: must be > 0, got -1m0s
config k.yml:10: aggregations[0].retension: unknown field; did you mean retention?
config k.yml:11: aggregations[0].grace: "soon" is not a duration like 30s, 1m or 1h30m
config k.yml:12: aggregations[0].max_keys: must be a whole number, got "many"
config k.yml:15: aggregations[1].measures: must be a list such as [a, b], got "count"
config k.yml:17: stream.commit_interval: must be >= 1ms, got 0s
config k.yml:19: kafka.fetch_max_wait: must be between 10ms and 24d20h31m23s647ms (franz-go's range), got 5ms`
	_, err := Parse("k.yml", []byte(yml))
	if err == nil {
		t.Fatal("no error")
	}
	if err.Error() != want {
		t.Errorf("got\n%s\n\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != "k.yml" || e.Line != 4 || e.Path != "events.dimensions[1].name" {
		t.Errorf("errors.As gives %+v, want the first problem (k.yml:4, events.dimensions[1].name)", e)
	}
}

// No message names a Go type or yaml.v3's vocabulary, whatever the mistake.
func TestErrorsInConfigTerms(t *testing.T) {
	goTerms := regexp.MustCompile(`config\.[A-Z]|!!|unmarshal|reflect|int64|int32|float64|\bstruct\b`)
	for _, yml := range []string{
		"aggregations:\n  - name: a\n    windw: {}\n",
		"aggregations: {name: a}\n",
		"aggregations:\n  - name: a\n    window: tumbling\n",
		"aggregations:\n  - name: [a]\n",
		"aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    max_keys: 1.5\n",
		"aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    quantiles: [high]\n",
		"aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    anomaly: {alpha: lots}\n",
		"events: {value: {field: v, required: maybe}}\n",
		"stream: {replication_factor: 100000}\n",
		"kafka: {fetch_max_bytes: 99999999999}\n",
		"stream: [a]\n",
		"- a\n- b\n",
		"42\n",
		"stream: {idle_timeout: {a: 1}}\n",
		"{? [a] : b}\n",
	} {
		_, err := Parse("k.yml", []byte(yml))
		if err == nil {
			t.Errorf("no error for %q", yml)
			continue
		}
		if goTerms.MatchString(err.Error()) {
			t.Errorf("error for %q is in Go terms:\n%s", yml, err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "config k.yml:") {
				t.Errorf("error line %q for %q lacks the file and line", line, yml)
			}
		}
	}
}

func TestUnknownFields(t *testing.T) {
	f := func(yml, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(yml))
		if err == nil || err.Error() != want {
			t.Errorf("error for\n%s\n= %v\nwant %s", yml, err, want)
		}
	}
	agg := "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	f(agg+"    retension: 24h\n", "config k.yml:4: aggregations[0].retension: unknown field; did you mean retention?")
	f(agg+"    Retention: 24h\n", "config k.yml:4: aggregations[0].Retention: unknown field; did you mean retention?")
	f(agg+"    max_key: 10\n", "config k.yml:4: aggregations[0].max_key: unknown field; did you mean max_keys?")
	f(agg+"    quantile: [0.5]\n", "config k.yml:4: aggregations[0].quantile: unknown field; did you mean quantiles?")
	f(agg+"    groupby: [a]\n", "config k.yml:4: aggregations[0].groupby: unknown field; did you mean group_by?")
	f(agg+"    group: [a]\n", "config k.yml:4: aggregations[0].group: unknown field; did you mean group_by?")
	f(agg+"    garce: 1s\n", "config k.yml:4: aggregations[0].garce: unknown field; did you mean grace?")
	f("stream: {comit_interval: 1s}\n", "config k.yml:1: stream.comit_interval: unknown field; did you mean commit_interval?")
	f("kafka: {fetch_max_wait_ms: 100}\n", "config k.yml:1: kafka.fetch_max_wait_ms: unknown field; did you mean fetch_max_wait?")
	f("events:\n  timestamp: {field: ts, units: ms}\n  dimensions: [{name: endpoint}, {name: status}, {name: region}]\n  value: {field: v}\n  status: {field: status}\n",
		"config k.yml:2: events.timestamp.units: unknown field; did you mean unit?")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advnce: 1s}\n",
		"config k.yml:3: aggregations[0].window.advnce: unknown field; did you mean advance?")
	// Nothing close: the fields are listed instead.
	f(agg+"    colour: red\n", "config k.yml:4: aggregations[0].colour: unknown field (the fields here are name, group_by, window, grace, retention, measures, quantiles, anomaly, rollups, max_keys)")
	f("wndow: {}\n", "config k.yml:1: wndow: unknown field (the fields here are events, aggregations, sketch, kafka, stream, state, metrics, api, memory)")
	f("x: 1\n", "config k.yml:1: x: unknown field (the fields here are events, aggregations, sketch, kafka, stream, state, metrics, api, memory)")
	// A field set twice is an error too (yaml.v3 stopped at it with "mapping key
	// already defined"); the second one is reported.
	f("stream:\n  commit_interval: 1s\n  commit_interval: 2s\n", "config k.yml:3: stream.commit_interval: set twice (first on line 2)")
	// yaml.v3 drops a mapping with a key set twice: the aggregation is missing,
	// which is not worth reporting ("at least one aggregation is needed").
	f(agg+"    grace: 1m\n    grace: 2m\n    max_keys: x\n",
		"config k.yml:5: aggregations[0].grace: set twice (first on line 4)\n"+
			`config k.yml:6: aggregations[0].max_keys: must be a whole number, got "x"`)
}

func TestTypeErrors(t *testing.T) {
	f := func(yml, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(yml))
		if err == nil || err.Error() != want {
			t.Errorf("error for\n%s\n= %v\nwant %s", yml, err, want)
		}
	}
	agg := "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	f(agg+"    max_keys: many\n", `config k.yml:4: aggregations[0].max_keys: must be a whole number, got "many"`)
	// yaml.v3 truncates 1.5 to 1 in an int field without a word.
	f(agg+"    max_keys: 1.5\n", `config k.yml:4: aggregations[0].max_keys: must be a whole number, got 1.5`)
	f(agg+"    quantiles: [0.5, high]\n", `config k.yml:4: aggregations[0].quantiles[1]: must be a number, got "high"`)
	f(agg+"    group_by: endpoint\n", `config k.yml:4: aggregations[0].group_by: must be a list such as [a, b], got "endpoint"`)
	f("aggregations:\n  - name: a\n    window: tumbling\n",
		`config k.yml:3: aggregations[0].window: must be a mapping of type, size, advance, gap, got "tumbling"`)
	f("aggregations: {name: a}\n", `config k.yml:1: aggregations: must be a list such as [a, b], got a mapping`)
	f("events: {value: {field: v, required: maybe}}\naggregations: [{name: a, window: {type: tumbling, size: 1m}}]\n",
		`config k.yml:1: events.value.required: must be true or false, got "maybe"`)
	f("stream: {replication_factor: 100000}\n", `config k.yml:1: stream.replication_factor: must be between -32768 and 32767, got 100000`)
	f("kafka: {fetch_max_bytes: 99999999999}\n", `config k.yml:1: kafka.fetch_max_bytes: must be between -2147483648 and 2147483647, got 99999999999`)
	f("stream: {instance_id: [a]}\n", `config k.yml:1: stream.instance_id: must be a string, got a list`)
	f("stream: {idle_timeout: {a: 1}}\n", `config k.yml:1: stream.idle_timeout: must be a duration like 30s, 1m or 1h30m, got a mapping`)
	f("- a\n", `config k.yml:1: must be a mapping of events, aggregations, sketch, kafka, stream, state, ..., got a list`)
	f("stream: {a: 1\n", `config k.yml:1: not valid YAML: did not find expected ',' or '}'`)
	f("stream: {}\n---\nstream: {}\n", `config k.yml:2: a second YAML document (after ---): a configuration is one document`)
	// A null is an absent field: its default applies.
	if c, err := Parse("k.yml", []byte("stream: {commit_interval: ~}\naggregations: ~\n")); err != nil || c.Stream.CommitInterval != Duration(100*time.Millisecond) || len(c.Aggregations) != 3 {
		t.Errorf("nulls: %v", err)
	}
}

// Aliases and merge keys are YAML: unknown fields inside them are found, and
// merged fields count as set.
func TestAliasesAndMerges(t *testing.T) {
	yml := `
base: &base {type: tumbling, size: 1m}
aggregations:
  - name: a
    window: *base
  - name: b
    window:
      <<: *base
      size: 2m
`
	_, err := Parse("k.yml", []byte(yml))
	if want := "config k.yml:2: base: unknown field"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("error %v, want %s...", err, want)
	}
	yml = `
aggregations:
  - &a {name: a, window: {type: tumbling, size: 1m}, max_keys: 7}
  - <<: *a
    name: b
    grace: 5s
`
	c, err := Parse("k.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	if b := c.Aggregations[1]; b.Name != "b" || b.MaxKeys != 7 || b.Grace != Duration(5*time.Second) || b.Window.Size != Duration(time.Minute) {
		t.Errorf("merged aggregation %+v", b)
	}
	// A billion laughs: refused, in bounded time.
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	start := time.Now()
	laughs += "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n    group_by: *i\n"
	if _, err := Parse("k.yml", []byte(laughs)); err == nil {
		t.Error("a billion laughs accepted")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a billion laughs took %v", d)
	}
}

func TestDurations(t *testing.T) {
	f := func(yml, want string) {
		t.Helper()
		_, err := Parse("k.yml", []byte(yml))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error for\n%s\n= %v\nwant it to contain %s", yml, err, want)
		}
	}
	agg := "aggregations:\n  - name: a\n    window: {type: tumbling, size: 1m}\n"
	// Negative durations say the range, not "not a duration" (model.ParseDuration
	// refuses the sign).
	f("aggregations:\n  - name: a\n    window: {type: tumbling, size: -1m}\n", "k.yml:3: aggregations[0].window.size: must be > 0, got -1m0s")
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: -10s}\n", "k.yml:3: aggregations[0].window.advance: must be > 0 and <= size (1m0s), got -10s")
	f("aggregations:\n  - name: a\n    window: {type: session, gap: -1s}\n", "k.yml:3: aggregations[0].window.gap: must be > 0, got -1s")
	f(agg+"    grace: -10s\n", "k.yml:4: aggregations[0].grace: must be >= 0, got -10s")
	// A bad grace and a bad window are both reported (window.Spec.Validate
	// returns only its first problem).
	f("aggregations:\n  - name: a\n    window: {type: hopping, size: 1m, advance: 2m}\n    grace: -10s\n",
		"k.yml:3: aggregations[0].window.advance: must be > 0 and <= size (1m0s), got 2m0s\nconfig k.yml:4: aggregations[0].grace: must be >= 0, got -10s")
	f(agg+"    retention: -1h\n", "k.yml:4: aggregations[0].retention: must be >= window size + grace (1m0s), got -1h0m0s")
	f("events: {max_future_skew: -1h}\n", "k.yml:1: events.max_future_skew: must be > 0, got -1h")
	f("stream: {idle_timeout: -30s}\n", "k.yml:1: stream.idle_timeout: must be >= 0 (0 disables), got -30s")
	f("stream: {commit_interval: -1s}\n", "k.yml:1: stream.commit_interval: must be >= 1ms, got -1s")
	f("stream: {session_timeout: -45s}\n", "k.yml:1: stream.session_timeout: must be between 3s (the group heartbeat interval) and 24d20h31m23s647ms, got -45s")
	f("kafka: {fetch_max_wait: -1ms}\n", "k.yml:1: kafka.fetch_max_wait: must be between 10ms and 24d20h31m23s647ms (franz-go's range), got -1ms")
	// Malformed ones say what a duration looks like.
	f(agg+"    grace: soon\n", `k.yml:4: aggregations[0].grace: "soon" is not a duration like 30s, 1m or 1h30m`)
	f(agg+"    grace: 1.5s\n", `k.yml:4: aggregations[0].grace: "1.5s" is not a duration like 30s, 1m or 1h30m`)
	f(agg+"    grace: --1s\n", `k.yml:4: aggregations[0].grace: "--1s" is not a duration like 30s, 1m or 1h30m`)
	f(agg+"    grace: 30\n", `k.yml:4: aggregations[0].grace: "30" is not a duration: give a unit, such as 30s`)
	f(agg+"    grace: 300y\n", `k.yml:4: aggregations[0].grace: "300y" is too long (at most 292y)`)
	f(agg+"    grace: [1s]\n", `k.yml:4: aggregations[0].grace: must be a duration like 30s, 1m or 1h30m, got a list`)
	// The largest duration is accepted where nothing else bounds it.
	if c, err := Parse("k.yml", []byte(agg+"    grace: 1h\n    retention: 292y\n")); err != nil || c.Aggregations[0].Retention != Duration(292*365*24*time.Hour) {
		t.Errorf("retention 292y: %v", err)
	}
}

func TestDurationString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Duration
		str  string
	}{
		{"0", 0, "0s"},
		{"1m30s", Duration(90 * time.Second), "1m30s"},
		{"1d", Duration(24 * time.Hour), "1d"},
		{"-1m", Duration(-time.Minute), "-1m"},
	} {
		d, err := parseDuration(c.in)
		if err != nil || d != c.want || d.String() != c.str {
			t.Errorf("parseDuration(%q) = %v (%s), %v; want %v (%s)", c.in, time.Duration(d), d, err, time.Duration(c.want), c.str)
		}
	}
}

var aggregationType = reflect.TypeFor[Aggregation]()

func TestClosest(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"retension", "retention"}, {"windw", "window"}, {"max_kyes", "max_keys"}, {"grp", ""},
		{"ab", ""}, {"name", "name"}, {"NAME", "name"}, {"measure", "measures"}, {"anomally", "anomaly"},
		{"xyz", ""}, {"group_by_dims", "group_by"},
	} {
		if got := closest(c.key, fieldNames(aggregationType)); got != c.want {
			t.Errorf("closest(%q) = %q, want %q", c.key, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"abc", "abc", 0}, {"abc", "acb", 1}, {"kitten", "sitting", 3}, {"retension", "retention", 1}, {"ca", "abc", 3}} {
		if got := editDistance(c.a, c.b); got != c.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}
