package config

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
)

const defaultRetention = Duration(24 * time.Hour)

// DefaultClassicBuckets is the default of Metrics.ClassicBuckets: client_golang's
// DefBuckets, for latencies in seconds.
var DefaultClassicBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// DefaultGCPercent is the default of Memory.GCPercent.
const DefaultGCPercent = 50

// DefaultMaxKeys is the default of Aggregation.MaxKeys.
const DefaultMaxKeys = 100000

// Defaults of the events section.
const (
	DefaultMaxSize            = event.DefaultMaxSize
	DefaultMaxDimensionLength = event.DefaultMaxDimensionLength
	DefaultMinTimestamp       = "2000-01-01T00:00:00Z"
	defaultMaxFutureSkew      = Duration(time.Hour)
)

// exampleConfig is the example file as written, before defaults: the source of the
// default events section and aggregations. Decoded anew for every caller, which
// then owns every pointer and slice in it.
func exampleConfig() Config {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(example))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		panic(fmt.Sprintf("config: the built-in example does not parse: %v", err))
	}
	return c
}

// fillDefaults gives its default to every field that is zero and that the file
// does not set (has reports which it does, by path; the default events and
// aggregations come from the example, with values of their own). A field the
// file sets keeps its value, so that an explicit 0 is validated as written
// ("stream.commit_interval: must be >= 1ms, got 0s") rather than silently
// replaced.
func (c *Config) fillDefaults(has func(path string) bool) {
	unset := func(path string) bool { return !has(path) }
	if c.Events == nil || c.Aggregations == nil {
		ex := exampleConfig()
		if c.Events == nil {
			c.Events = ex.Events
		}
		if c.Aggregations == nil {
			c.Aggregations = ex.Aggregations
		}
	}
	if c.Sketch.Schema == nil {
		s := int32(sketch.DefaultSchema)
		c.Sketch.Schema = &s
	}
	if c.Metrics.HistogramSchema == nil {
		h := min(int32(3), *c.Sketch.Schema)
		c.Metrics.HistogramSchema = &h
	}
	if c.Metrics.IdleWindows == 0 && unset("metrics.idle_windows") {
		c.Metrics.IdleWindows = 5
	}
	if c.Metrics.ClassicBuckets == nil && unset("metrics.classic_buckets") {
		c.Metrics.ClassicBuckets = slices.Clone(DefaultClassicBuckets)
	}
	c.fillEventDefaults(unset)
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		p := fmt.Sprintf("aggregations[%d].", i)
		if a.Retention == 0 && unset(p+"retention") {
			a.Retention = max(defaultRetention, a.span()+a.Grace)
		}
		if an := a.Anomaly; an != nil {
			if an.Alpha == 0 && unset(p+"anomaly.alpha") {
				an.Alpha = 0.1
			}
			if an.Warmup == 0 && unset(p+"anomaly.warmup") {
				an.Warmup = 10
			}
		}
		if a.MaxKeys == 0 && unset(p+"max_keys") {
			a.MaxKeys = DefaultMaxKeys
		}
		if a.Measures == nil {
			for _, m := range allMeasures {
				if c.supports(m) == "" {
					a.Measures = append(a.Measures, m)
				}
			}
		}
	}
	c.fillRuntimeDefaults(unset)
	c.fillAPIDefaults(unset)
}

func (c *Config) fillEventDefaults(unset func(string) bool) {
	e := c.Events
	if e.Timestamp != nil && e.Timestamp.Unit == "" && unset("events.timestamp.unit") {
		e.Timestamp.Unit = "auto"
	}
	if v := e.Value; v != nil {
		if v.Unit == "" && unset("events.value.unit") {
			v.Unit = "s"
		}
		if v.Required == nil {
			t := true
			v.Required = &t
		}
	}
	if s := e.Status; s != nil {
		if s.ClientErrors == nil {
			s.ClientErrors = []string{"400-499"}
		}
		if s.ServerErrors == nil {
			s.ServerErrors = []string{"500-599"}
		}
	}
	for i := range e.Dimensions {
		if d := &e.Dimensions[i]; d.Field == "" && unset(fmt.Sprintf("events.dimensions[%d].field", i)) {
			d.Field = d.Name
		}
	}
	if e.MaxFutureSkew == nil {
		d := defaultMaxFutureSkew
		e.MaxFutureSkew = &d
	}
	if e.MaxSize == 0 && unset("events.max_size") {
		e.MaxSize = DefaultMaxSize
	}
	if e.MaxDimensionLength == 0 && unset("events.max_dimension_length") {
		e.MaxDimensionLength = DefaultMaxDimensionLength
	}
	if e.MinTimestamp == "" && unset("events.min_timestamp") {
		e.MinTimestamp = DefaultMinTimestamp
	}
}

func (c *Config) fillRuntimeDefaults(unset func(string) bool) {
	k := &c.Kafka
	if k.Brokers == nil && unset("kafka.brokers") {
		k.Brokers = []string{"127.0.0.1:9092"}
	}
	if k.ClientID == "" && unset("kafka.client_id") {
		k.ClientID = "kwindow"
	}
	if k.FetchMaxBytes == 0 && unset("kafka.fetch_max_bytes") {
		k.FetchMaxBytes = 8 << 20
	}
	if k.FetchMaxPartitionBytes == 0 && unset("kafka.fetch_max_partition_bytes") {
		k.FetchMaxPartitionBytes = 1 << 20
	}
	if k.FetchMaxWait == 0 && unset("kafka.fetch_max_wait") {
		k.FetchMaxWait = Duration(250 * time.Millisecond)
	}
	s := &c.Stream
	if s.ApplicationID == "" && unset("stream.application_id") {
		s.ApplicationID = "kwindow"
	}
	if s.InstanceID == "" && unset("stream.instance_id") {
		s.InstanceID, _ = os.Hostname()
		if s.InstanceID == "" {
			s.InstanceID = "0"
		}
	}
	if s.InputTopic == "" && unset("stream.input_topic") {
		s.InputTopic = "requests"
	}
	if s.OutputTopic == "" && unset("stream.output_topic") {
		s.OutputTopic = s.ApplicationID + "-results"
	}
	if s.DeadLetterTopic == "" && unset("stream.dead_letter_topic") {
		s.DeadLetterTopic = s.ApplicationID + "-dead-letters"
	}
	if s.ProcessingGuarantee == "" && unset("stream.processing_guarantee") {
		s.ProcessingGuarantee = ExactlyOnce
	}
	if s.CommitInterval == 0 && unset("stream.commit_interval") {
		s.CommitInterval = Duration(100 * time.Millisecond)
		if s.ProcessingGuarantee == AtLeastOnce {
			s.CommitInterval = Duration(time.Second)
		}
	}
	if s.IdleTimeout == nil {
		d := Duration(30 * time.Second)
		s.IdleTimeout = &d
	}
	if s.SessionTimeout == 0 && unset("stream.session_timeout") {
		s.SessionTimeout = Duration(45 * time.Second)
	}
	if s.ReplicationFactor == 0 && unset("stream.replication_factor") {
		s.ReplicationFactor = -1
	}
	st := &c.State
	if st.Store == "" && unset("state.store") {
		st.Store = "rocksdb"
	}
	if st.Dir == "" && unset("state.dir") {
		st.Dir = "data"
	}
	if st.BlockCacheSize == 0 && unset("state.block_cache_size") {
		st.BlockCacheSize = 16 << 20
	}
	if st.MemtableBudget == 0 && unset("state.memtable_budget") {
		st.MemtableBudget = 32 << 20
	}
	if c.Memory.GCPercent == 0 && unset("memory.gc_percent") {
		c.Memory.GCPercent = DefaultGCPercent
	}
}
