package config

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"
)

// The tests in this file show that what Parse refuses would really have broken
// kwindow: each builds the metric or client option kwindow would have built
// from the refused configuration, with the libraries kwindow uses, and watches it
// fail. They do not import metrics or stream (which import config); the *InStep
// tests read those packages' sources so that the names checked here stay theirs.

// collector serves fixed metrics under fixed descriptors, as metrics.Collector
// serves its snapshot.
type collector struct {
	descs   []*prometheus.Desc
	metrics []prometheus.Metric
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics {
		ch <- m
	}
}

// TestReservedLabelsBreakMetrics: a dimension named like a label kwindow adds to
// a family makes that family's descriptor invalid (serve.go's MustRegister panics
// at start), its every gather fail, or its exposition unparsable. The label
// sets are those of metrics/collector.go: dimensions, then kwindow's own.
func TestReservedLabelsBreakMetrics(t *testing.T) {
	const dim = "v" // the dimension's value in the one series
	register := func(d *prometheus.Desc, m prometheus.Metric) (regErr, gatherErr error, text string) {
		reg := prometheus.NewPedanticRegistry()
		c := collector{descs: []*prometheus.Desc{d}}
		if m != nil {
			c.metrics = []prometheus.Metric{m}
		}
		if regErr = reg.Register(c); regErr != nil {
			return regErr, nil, ""
		}
		mfs, gatherErr := reg.Gather()
		var b bytes.Buffer
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
				t.Fatal(err)
			}
		}
		return nil, gatherErr, b.String()
	}

	// class: kwindow_A_errors_total{dims, class}: duplicate label, invalid
	// descriptor, panic at start.
	d := prometheus.NewDesc("kwindow_a_errors_total", "h", []string{"class", "class"}, nil)
	if err, _, _ := register(d, nil); err == nil || !strings.Contains(err.Error(), "duplicate label names") {
		t.Errorf("class: registration error %v, want duplicate label names", err)
	}
	// measure: kwindow_A_anomaly_score{dims, measure}.
	d = prometheus.NewDesc("kwindow_a_anomaly_score", "h", []string{"measure", "measure"}, nil)
	if err, _, _ := register(d, nil); err == nil || !strings.Contains(err.Error(), "duplicate label names") {
		t.Errorf("measure: registration error %v, want duplicate label names", err)
	}
	// q: kwindow_A_window_latency_seconds{dims, q}, in an aggregation with quantiles.
	d = prometheus.NewDesc("kwindow_a_window_latency_seconds", "h", []string{QuantileLabel, QuantileLabel}, nil)
	if err, _, _ := register(d, nil); err == nil || !strings.Contains(err.Error(), "duplicate label names") {
		t.Errorf("q: registration error %v, want duplicate label names", err)
	}
	// quantile: Prometheus reserves it for summaries; on any other metric (every
	// family of the aggregation carries the dimensions) promtool check metrics,
	// which is client_golang's promlint, fails.
	d = prometheus.NewDesc("kwindow_a_window_requests", "h", []string{"quantile"}, nil)
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, 1, dim)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{descs: []*prometheus.Desc{d}, metrics: []prometheus.Metric{m}})
	problems, err := promlint.NewWithMetricFamilies(mustGather(t, reg)).Lint()
	if err != nil || len(problems) == 0 || !strings.Contains(problems[0].Text, `"quantile" label`) {
		t.Errorf("quantile: lint problems %v (%v), want one about the quantile label", problems, err)
	}
	// le: kwindow_A_latency_seconds{dims} is a native histogram;
	// client_golang gathers it, but its text exposition (what Prometheus scrapes
	// without native histograms, and what promtool checks) carries le twice on
	// _bucket, and the parse of the whole scrape fails.
	d = prometheus.NewDesc("kwindow_a_latency_seconds", "h", []string{"le"}, nil)
	m, err = prometheus.NewConstNativeHistogram(d, 1, 0.1, map[int]int64{0: 1}, nil, 0, 3, 0, time.Time{}, dim)
	if err != nil {
		t.Fatal(err)
	}
	regErr, gatherErr, text := register(d, m)
	if regErr != nil || gatherErr != nil {
		t.Fatalf("le: %v, %v", regErr, gatherErr)
	}
	if !strings.Contains(text, `{le="v",le="+Inf"}`) {
		t.Errorf("le: exposition without the duplicate le:\n%s", text)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if _, err := parser.TextToMetricFamilies(strings.NewReader(text)); err == nil {
		t.Errorf("le: the exposition parses:\n%s", text)
	}
	// __x: not a label name client_golang accepts; the collector's
	// MustNewConstMetric would panic in Collect, at every scrape.
	d = prometheus.NewDesc("kwindow_a_window_requests", "h", []string{"__x"}, nil)
	if _, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, 1, dim); err == nil {
		t.Error("__x: const metric built")
	}
	// instance, job and aggregation break nothing in client_golang: Prometheus
	// renames a scraped instance or job label to exported_instance/exported_job
	// (or, with honor_labels, replaces the target's), and kwindow's recording
	// rules (sum without (instance)) and alerts (labels: aggregation) would merge
	// or overwrite the dimension. Refused for those reasons (TestReservedDimensionNames).

	for _, name := range []string{"class", "measure", "quantile", "le", "__x", "instance", "job", "aggregation", QuantileLabel} {
		if _, err := Parse("k.yml", []byte(dimsConfig("endpoint", name))); err == nil {
			t.Errorf("Parse accepts dimension %q", name)
		}
	}
}

// TestClashingAggregationsBreakRegistration: aggregations x and x_window both
// export kwindow_x_window_latency_seconds (x's window quantiles {dims, q},
// x_window's histogram {dims}); the second registration fails
// (serve.go: panic).
func TestClashingAggregationsBreakRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	summary := prometheus.NewDesc("kwindow_x_window_latency_seconds", "Quantiles of the values in the last closed x window.", []string{"endpoint", QuantileLabel}, nil)
	hist := prometheus.NewDesc("kwindow_x_window_latency_seconds", "Distribution of the values counted by x_window.", []string{"endpoint"}, nil)
	if err := reg.Register(collector{descs: []*prometheus.Desc{summary}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(collector{descs: []*prometheus.Desc{hist}}); err == nil {
		t.Error("both registered")
	}
	if _, err := Parse("k.yml", []byte("aggregations:\n  - {name: x, window: {type: tumbling, size: 1m}}\n  - {name: x_window, window: {type: tumbling, size: 1m}}\n")); err == nil {
		t.Error("Parse accepts aggregations x and x_window")
	}
}

// TestKafkaPrefixIsFranzGos: franz-go's client metrics, registered by kprom under
// kwindow_kafka_, include kwindow_kafka_connect_errors_total, which an
// aggregation named kafka_connect would export too.
func TestKafkaPrefixIsFranzGos(t *testing.T) {
	reg := prometheus.NewRegistry()
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.WithHooks(kprom.NewMetrics("kwindow", kprom.Registerer(reg), kprom.Subsystem("kafka"))))
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
	agg := prometheus.NewDesc("kwindow_kafka_connect_errors_total", "Error events counted by kafka_connect.", []string{"endpoint", "class"}, nil)
	if err := reg.Register(collector{descs: []*prometheus.Desc{agg}}); err == nil {
		t.Error("kwindow_kafka_connect_errors_total registered next to kprom's")
	}
}

// TestFranzGoLimits: the bounds of kafka.fetch_max_wait, kafka.fetch_max_bytes,
// kafka.client_id and stream.session_timeout are franz-go's: at the bound the
// client is built, past it kgo.NewClient fails, which is at kwindow's start,
// after config check passed the value.
func TestFranzGoLimits(t *testing.T) {
	f := func(name string, opt kgo.Opt, ok bool) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), opt)
		if err == nil {
			cl.Close()
		}
		if (err == nil) != ok {
			t.Errorf("%s: kgo.NewClient error %v, want ok=%v", name, err, ok)
		}
	}
	f("fetch_max_wait 10ms", kgo.FetchMaxWait(time.Duration(minFetchMaxWait)), true)
	f("fetch_max_wait 9ms", kgo.FetchMaxWait(time.Duration(minFetchMaxWait)-time.Millisecond), false)
	f("fetch_max_bytes 100 MiB", kgo.FetchMaxBytes(maxFetchMaxBytes), true)
	f("fetch_max_bytes 100 MiB + 1", kgo.FetchMaxBytes(maxFetchMaxBytes+1), false)
	f("client_id 256", kgo.ClientID(strings.Repeat("c", maxClientIDLength)), true)
	f("client_id 257", kgo.ClientID(strings.Repeat("c", maxClientIDLength+1)), false)
	f("session_timeout 3s", kgo.SessionTimeout(time.Duration(minSessionTimeout)), true)
	f("session_timeout 2.999s", kgo.SessionTimeout(time.Duration(minSessionTimeout)-time.Millisecond), false)
	f("session_timeout max", kgo.SessionTimeout(time.Duration(maxWireDuration)), true)
	f("session_timeout max + 1ms", kgo.SessionTimeout(time.Duration(maxWireDuration)+time.Millisecond), false)

	// SASL without a password: franz-go refuses it at the first connection.
	if _, _, err := (scram.Auth{User: "u"}).AsSha512Mechanism().Authenticate(context.Background(), "b:9092"); err == nil {
		t.Error("SCRAM without a password authenticates")
	}
}

// TestSelfFamiliesInStep: every metric family the runtime and the collector
// register under kwindow_ is in selfFamilies (or franz-go's kwindow_kafka_), and
// every name in selfFamilies is still registered, so that the aggregation-name
// check compares against what kwindow really exports. It reads the sources of
// exporter/stream and exporter/metrics.
func TestSelfFamiliesInStep(t *testing.T) {
	patterns := []*regexp.Regexp{
		regexp.MustCompile(`Namespace:\s*Namespace,\s*(?:Subsystem:\s*"([a-z0-9_]+)",\s*)?Name:\s*"([a-z0-9_]+)"`), // stream: prometheus.*Opts
		regexp.MustCompile(`Namespace\s*\+\s*"_([a-z0-9_]+)"`),                                                     // metrics: NewDesc(stream.Namespace+"_...")
	}
	found := map[string]string{}
	for _, dir := range []string{"../stream", "../metrics"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no sources in %s: %v", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range patterns[0].FindAllStringSubmatch(string(src), -1) {
				name := m[2]
				if m[1] != "" {
					name = m[1] + "_" + name
				}
				found[name] = file
			}
			for _, m := range patterns[1].FindAllStringSubmatch(string(src), -1) {
				found[m[1]] = file
			}
		}
	}
	serve, err := os.ReadFile("../serve.go")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(serve), "versioncollector.NewCollector(stream.Namespace)") {
		found["build_info"] = "../serve.go"
	}
	if len(found) < 10 {
		t.Fatalf("found only %v: the patterns no longer match the sources", found)
	}
	for name, file := range found {
		if !slices.Contains(selfFamilies, name) && !strings.HasPrefix(name, kafkaPrefix+"_") {
			t.Errorf("%s registers kwindow_%s, which selfFamilies (names.go) lacks", file, name)
		}
	}
	for _, name := range selfFamilies {
		if _, ok := found[name]; !ok {
			t.Errorf("selfFamilies (names.go) lists kwindow_%s, which no source registers any more", name)
		}
	}
}

// TestAggregationFamiliesInStep: the per-aggregation families metrics.Collector
// names (name("requests_total") and so on) are the ones the name check expects.
func TestAggregationFamiliesInStep(t *testing.T) {
	src, err := os.ReadFile("../metrics/collector.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`\bname\("([a-z0-9_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
		got = append(got, m[1])
	}
	// The value families are named by the configuration (ValueFamily).
	for expr, v := range map[string]string{`name(value)`: "value", `name("window_"+value)`: "window_value"} {
		if !strings.Contains(string(src), expr) {
			t.Errorf("metrics/collector.go does not name a family %s", expr)
		}
		got = append(got, v)
	}
	var want []string
	for _, f := range aggregationFamilies("value") {
		want = append(want, f.name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("metrics/collector.go names the aggregation families %v, names.go expects %v", got, want)
	}
	for unit, want := range map[string]string{"s": "kwindow_a_latency_seconds", "ms": "kwindow_a_latency_seconds", "none": "kwindow_a_value"} {
		c, err := Parse("k.yml", []byte("events: {value: {field: v, unit: "+unit+"}}\naggregations: [{name: a, window: {type: tumbling, size: 1m}}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		fams := c.MetricFamilies(&c.Aggregations[0])
		if len(fams) != 7 || fams[0] != "kwindow_a_requests_total" || !slices.Contains(fams, want) || !slices.Contains(fams, strings.Replace(want, "_a_", "_a_window_", 1)) {
			t.Errorf("unit %s: MetricFamilies() = %v, want %s and its window family", unit, fams, want)
		}
	}
}

func mustGather(t *testing.T, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
