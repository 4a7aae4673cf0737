// Package config is kwindow's one YAML schema: how to read events and which windowed
// aggregations to compute. Parse reads strictly (an unknown field is an error that
// names the closest valid field), gives defaults to the fields the file does not
// set, and validates everything in one place, so a bad file is refused at start,
// never halfway through a run, with every problem at once, each on its own line
// with the file, line and field path.
//
// Validation covers more than each field's range: names that would collide in
// /metrics (a dimension named le, an aggregation whose metric names are another's)
// and values that franz-go or Kafka would refuse at start (a session timeout below
// the heartbeat interval, a topic name too long) are refused here, with the reason.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Config is the whole file.
type Config struct {
	// Events says where the engine finds event time, value, status and dimensions in
	// a JSON event. Absent: the request-log schema of Example.
	Events *Events `yaml:"events"`
	// Aggregations are the windowed aggregations to compute, each exported under its
	// name. Absent: the three of Example (endpoint_1m, status_5m, region_1m).
	Aggregations []Aggregation `yaml:"aggregations"`
	// Sketch sets the latency sketch shared by every aggregation.
	Sketch Sketch `yaml:"sketch"`
	// Kafka says how to reach the brokers.
	Kafka Kafka `yaml:"kafka"`
	// Stream configures topics, the processing guarantee and timing.
	Stream Stream `yaml:"stream"`
	// State configures the state stores.
	State State `yaml:"state"`
	// Metrics configures the Prometheus exposition.
	Metrics Metrics `yaml:"metrics"`
	// API configures the interactive query API.
	API API `yaml:"api"`
	// Memory configures the Go runtime's memory (RocksDB's is in State).
	Memory Memory `yaml:"memory"`
}

// Events maps JSON event fields to what the engine needs.
type Events struct {
	// Timestamp is the event-time field; without one, events take their Kafka record
	// time.
	Timestamp *Timestamp `yaml:"timestamp"`
	// Value is the measured value, a latency for request logs.
	Value *Value `yaml:"value"`
	// Status is the status-code field that classifies errors.
	Status *Status `yaml:"status"`
	// Dimensions are the fields aggregations may group by.
	Dimensions []Dimension `yaml:"dimensions"`
	// MaxFutureSkew: an event time further than this ahead of the wall clock is
	// rejected as absurd (it would close every open window). Always applied: must
	// be > 0. Default 1h.
	MaxFutureSkew *Duration `yaml:"max_future_skew"`
	// MaxSize: larger events are rejected (bytes), 1 to 100 MiB (franz-go reads
	// at most 100 MiB from a broker at once). Default 1 MiB.
	MaxSize int `yaml:"max_size"`
	// MaxDimensionLength: an event with a longer dimension value is rejected
	// (bytes), so that no key, result or changelog record kwindow writes can
	// outgrow what it read. 1 to 64 KiB; default 1024.
	MaxDimensionLength int `yaml:"max_dimension_length"`
	// MinTimestamp: an earlier event time (from the payload or the Kafka record
	// time) is rejected as absurd. RFC 3339, after 1970 and before now; default
	// 2000-01-01T00:00:00Z.
	MinTimestamp string `yaml:"min_timestamp"`
}

// Timestamp locates event time.
type Timestamp struct {
	// Field is the JSON path, dots for nesting ("meta.ts").
	Field string `yaml:"field"`
	// Unit of epoch numbers: s, ms, us, ns, rfc3339 (strings only) or auto (by
	// magnitude). RFC 3339 strings are accepted in every unit. Default auto.
	Unit string `yaml:"unit"`
}

// Value locates the measured value.
type Value struct {
	// Field is the JSON path.
	Field string `yaml:"field"`
	// Unit of the value: ns, us, ms or s for durations (exported in seconds, as
	// kwindow_<aggregation>_latency_seconds), or none for a unitless value kept as
	// it is (exported as kwindow_<aggregation>_value). Default s.
	Unit string `yaml:"unit"`
	// Required: an event without the value is invalid. Default true.
	Required *bool `yaml:"required"`
	// AllowNegative accepts negative values (gauges). Latencies are never negative,
	// so the default false rejects them as invalid.
	AllowNegative bool `yaml:"allow_negative"`
}

// Status locates the status code and says which codes are errors.
type Status struct {
	// Field is the JSON path; a number or a numeric string.
	Field string `yaml:"field"`
	// ClientErrors are status ranges counted as client errors ("400-499", "429").
	// Default ["400-499"].
	ClientErrors []string `yaml:"client_errors"`
	// ServerErrors are status ranges counted as server errors. Default ["500-599"].
	ServerErrors []string `yaml:"server_errors"`
}

// Dimension is a field aggregations can group by.
type Dimension struct {
	// Name is how aggregations and metric labels refer to it: a Prometheus label
	// name ([a-zA-Z_][a-zA-Z0-9_]*), none of the labels kwindow adds itself
	// (partition, class, quantile, le, measure, aggregation) or Prometheus sets
	// (instance, job), and not starting with __.
	Name string `yaml:"name"`
	// Field is the JSON path; default the name.
	Field string `yaml:"field"`
	// Optional dimensions take Default when absent; a required one that is absent
	// makes the event invalid.
	Optional bool   `yaml:"optional"`
	Default  string `yaml:"default"`
}

// Aggregation is one windowed aggregation.
type Aggregation struct {
	// Name names the aggregation in metrics, the API and the store:
	// [a-zA-Z_][a-zA-Z0-9_]*, not kafka or kafka_* (franz-go's metrics are
	// kwindow_kafka_*), and not a name whose metrics another aggregation's would
	// repeat (x and x_window both make kwindow_x_window_latency_seconds).
	Name string `yaml:"name"`
	// GroupBy lists dimension names; one aggregate per distinct combination.
	GroupBy []string `yaml:"group_by"`
	// Window is the window kind and size. A hopping window's size/advance is at
	// most MaxWindowsPerEvent: every event updates that many windows.
	Window Window `yaml:"window"`
	// Grace is how long after a window's end it still accepts out-of-order events;
	// later ones are counted as late. Default 0.
	Grace Duration `yaml:"grace"`
	// Retention is how long windows stay in the store after they start, for
	// queries: at least window size + grace. Default 24h, or size + grace when
	// that is longer.
	Retention Duration `yaml:"retention"`
	// Measures to compute: count, errors (4xx and 5xx counts), error_ratio, sum, min,
	// max. Default all that the events section supports.
	Measures []string `yaml:"measures"`
	// Quantiles of the value, from the sketch (0.5, 0.95, 0.99), each in [0, 1]
	// and listed once. Default none.
	Quantiles []float64 `yaml:"quantiles"`
	// Anomaly scores the last closed window of each key against its history.
	Anomaly *Anomaly `yaml:"anomaly"`
	// Rollups are coarser resolutions of a tumbling aggregation, finest first,
	// each kept for its own retention: 1h kept 30d and 1d kept 400d next to 1m
	// windows kept 24h. Stage 2 merges each window, once it closes, into the
	// rollup window of every resolution that holds it, exactly (counts and
	// sketch buckets), so long ranges read a few rollups instead of thousands of
	// windows. Each resolution is a multiple of the one before (the window size
	// for the first), at most MaxRollups of them; each retention at least the
	// one before (the aggregation's for the first) and at least its resolution +
	// grace. Default none (the built-in configuration's tumbling aggregations
	// keep 1h for 30d).
	Rollups []Rollup `yaml:"rollups"`
	// MaxKeys bounds the distinct group keys each stage-2 task holds in memory
	// (keys with open windows). Events of further keys are counted under one overflow key whose
	// every dimension is "__overflow__", so a bad producer cannot exhaust memory.
	// Must be > 0. Default 100000.
	MaxKeys int `yaml:"max_keys"`
}

// Rollup is one coarser resolution of an aggregation.
type Rollup struct {
	// Resolution is the rollup window's length: windows start at its multiples
	// (since the Unix epoch, UTC), like tumbling windows.
	Resolution Duration `yaml:"resolution"`
	// Retention is how long rollup windows stay in the store after they start.
	Retention Duration `yaml:"retention"`
}

// Anomaly configures anomaly scores: for each measure, an exponentially weighted
// mean and variance over a key's past windows, and the z-score of its last closed
// window, exported as kwindow_<aggregation>_anomaly_score{measure}.
type Anomaly struct {
	// Measures to score: count, error_ratio, or pNN for a configured quantile
	// (p99 needs 0.99 in quantiles).
	Measures []string `yaml:"measures"`
	// Alpha is the weight of the newest window in the moving mean and variance
	// (0 < alpha <= 1): 0.1 remembers about the last 10 windows. Default 0.1.
	Alpha float64 `yaml:"alpha"`
	// Warmup is how many windows a key needs before it is scored. Default 10.
	Warmup int `yaml:"warmup"`
}

// Metrics configures the Prometheus exposition.
type Metrics struct {
	// HistogramSchema is the native-histogram schema of the exported latency
	// histograms (-4..8), at most the sketch's: lower means fewer buckets for
	// Prometheus to store. Default 3 (relative bucket width 9%).
	HistogramSchema *int32 `yaml:"histogram_schema"`
	// IdleWindows: a key with no event for this many windows of its aggregation is
	// no longer exported, so series of vanished keys do not pile up. 1 to 10000;
	// default 5.
	IdleWindows int `yaml:"idle_windows"`
	// ClassicBuckets are the upper bounds (le) of the classic buckets exported in
	// the value histograms next to the native buckets, for Prometheus servers
	// without native histograms: in seconds for durations, else in the value's
	// own unit. Strictly increasing, positive and finite (+Inf is always added),
	// at most MaxClassicBuckets; [] exports only the +Inf bucket. They are filled
	// from the sketch: a sketch bucket that straddles a bound counts in the next
	// classic bucket up, so a bound acts as if lowered by less than one sketch
	// bucket (1.09 % at sketch schema 6). Default client_golang's DefBuckets,
	// 5ms to 10s.
	ClassicBuckets []float64 `yaml:"classic_buckets"`
}

// Window is a window kind and its size.
type Window struct {
	// Type is tumbling, hopping, sliding or session.
	Type string `yaml:"type"`
	// Size of tumbling, hopping and sliding windows.
	Size Duration `yaml:"size"`
	// Advance of hopping windows.
	Advance Duration `yaml:"advance"`
	// Gap of session windows: a session ends after this long without events.
	Gap Duration `yaml:"gap"`
}

// Sketch configures the latency sketch.
type Sketch struct {
	// Schema sets the sketch resolution as in Prometheus native histograms (-4..8):
	// relative quantile error (2^(2^-schema)-1)/(2^(2^-schema)+1), 0.54% at the
	// default 6.
	Schema *int32 `yaml:"schema"`
}

// Duration is a time.Duration read as Prometheus writes durations: 30s, 1m, 1h30m,
// 1d. A leading minus sign is read too, so that validation can say what range the
// field takes ("must be > 0, got -1m") rather than that it is no duration.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler. Its error is a *yaml.TypeError, so
// that decoding goes on to the other fields (Parse reports them all).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: not a duration", n.Line)}}
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = v
	return nil
}

// parseDuration reads a Prometheus duration with an optional sign.
func parseDuration(s string) (Duration, error) {
	abs, neg := strings.CutPrefix(s, "-")
	v, err := model.ParseDuration(abs)
	switch {
	case err != nil && strings.Contains(err.Error(), "out of range"):
		return 0, fmt.Errorf("%q is too long (at most 292y)", s)
	case err != nil && abs != "" && strings.Trim(abs, "0123456789") == "":
		return 0, fmt.Errorf("%q is not a duration: give a unit, such as %ss", s, s)
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration like 30s, 1m or 1h30m", s)
	case neg:
		return -Duration(v), nil
	}
	return Duration(v), nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d Duration) String() string {
	if d < 0 {
		return "-" + model.Duration(-d).String()
	}
	return model.Duration(d).String()
}

// Millis is the duration in milliseconds.
func (d Duration) Millis() int64 { return time.Duration(d).Milliseconds() }

//go:embed kwindow.example.yml
var example []byte

// Example is the annotated example configuration, which is also the default.
func Example() []byte { return bytes.Clone(example) }

// Default returns the configuration used when no file is given.
func Default() *Config {
	c, err := Parse("kwindow.example.yml", example)
	if err != nil {
		panic(fmt.Sprintf("config: the built-in example is invalid: %v", err))
	}
	return c
}

// LoadFile reads, parses and validates the file at path.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a YAML document; name prefixes error messages. The
// error holds every problem of the file, one *Error per line in line order:
//
//	config k.yml:3: aggregations[0].retension: unknown field; did you mean retention?
//	config k.yml:7: aggregations[0].window.size: must be > 0, got 0s
func Parse(name string, data []byte) (*Config, error) { return parse(name, data, time.Now) }

// parse is Parse with the clock that events.min_timestamp must be before.
func parse(name string, data []byte, now func() time.Time) (*Config, error) {
	doc, err := readDocument(name, data)
	if err != nil {
		return nil, err
	}
	sh := checkShape(doc)
	var c Config
	if doc != nil {
		if err := doc.Decode(&c); err != nil {
			// A *yaml.TypeError leaves zeros where values did not decode; those
			// are among sh.probs, and report drops what validation says of them.
			// Any other error stops the decoder halfway, and a key set twice
			// makes it drop the whole mapping: then validation would only see a
			// partial config, so only shape's problems are reported.
			var te *yaml.TypeError
			if len(sh.probs) == 0 {
				return nil, &Error{File: name, Msg: err.Error()}
			}
			if !errors.As(err, &te) || slices.ContainsFunc(sh.probs, func(p *fieldError) bool { return p.partial }) {
				return nil, report(name, doc, sh.probs, nil)
			}
		}
	}
	c.fillDefaults(sh.has)
	if err := report(name, doc, sh.probs, c.validate(now(), sh.has)); err != nil {
		return nil, err
	}
	return &c, nil
}
