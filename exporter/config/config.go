// Package config is kwindow's one YAML schema: how to read events and which windowed
// aggregations to compute. Load parses strictly (an unknown field is an error), fills
// defaults and validates everything in one place, so a bad file is refused at start
// with the field's path and line, never halfway through a run.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
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
	// rejected as absurd (it would close every open window). 0 disables. Default 1h.
	MaxFutureSkew *Duration `yaml:"max_future_skew"`
	// MaxSize: larger events are rejected (bytes). Default 1 MiB.
	MaxSize int `yaml:"max_size"`
	// MaxDimensionLength: an event with a longer dimension value is rejected
	// (bytes), so that no key, result or changelog record kwindow writes can
	// outgrow what it read. Default 1024.
	MaxDimensionLength int `yaml:"max_dimension_length"`
	// MinTimestamp: an earlier event time (from the payload or the Kafka record
	// time) is rejected as absurd. RFC 3339; default 2000-01-01T00:00:00Z.
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
	// Unit of the value: ns, us, ms or s for durations (exported in seconds), or
	// none for a unitless value kept as it is. Default s.
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
	// Name is how aggregations and metric labels refer to it.
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
	// Name names the aggregation in metrics, the API and the store: [a-zA-Z_][a-zA-Z0-9_]*.
	Name string `yaml:"name"`
	// GroupBy lists dimension names; one aggregate per distinct combination.
	GroupBy []string `yaml:"group_by"`
	// Window is the window kind and size.
	Window Window `yaml:"window"`
	// Grace is how long after a window's end it still accepts out-of-order events;
	// later ones are counted as late. Default 0.
	Grace Duration `yaml:"grace"`
	// Retention is how long windows stay in the store after they start, for
	// queries. Default 24h (at least window size + grace).
	Retention Duration `yaml:"retention"`
	// Measures to compute: count, errors (4xx and 5xx counts), error_ratio, sum, min,
	// max. Default all that the events section supports.
	Measures []string `yaml:"measures"`
	// Quantiles of the value, from the sketch (0.5, 0.95, 0.99). Default none.
	Quantiles []float64 `yaml:"quantiles"`
	// Anomaly scores the last closed window of each key against its history.
	Anomaly *Anomaly `yaml:"anomaly"`
	// MaxKeys bounds the distinct group keys held in memory (keys with open
	// windows). Events of further keys are counted under one overflow key whose
	// every dimension is "__overflow__", so a bad producer cannot exhaust memory.
	// Default 100000.
	MaxKeys int `yaml:"max_keys"`
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
	// no longer exported, so series of vanished keys do not pile up. Default 5.
	IdleWindows int `yaml:"idle_windows"`
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

// Duration is a time.Duration read as Prometheus writes durations: 30s, 1m, 1h30m, 1d.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s, 1m or 1h30m", n.Line, s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return model.Duration(d).String(), nil }

func (d Duration) String() string { return model.Duration(d).String() }

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

// Parse parses and validates a YAML document; name prefixes error messages.
func Parse(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	// The same bytes again as a node tree, for the line numbers of validation errors
	// (Node.Decode would drop KnownFields, so the struct is decoded above).
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	c.fillDefaults()
	if err := c.validate(); err != nil {
		return nil, withLines(name, &root, err)
	}
	return &c, nil
}
