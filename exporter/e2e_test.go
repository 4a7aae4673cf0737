package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/broker"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/loadgen"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/web"
)

// TestEndToEnd runs kwindow as it is deployed: the embedded broker, the load
// generator, the exporter (serveStream, as `kwindow run` calls it), Debian's
// Prometheus scraping it every second, and Alertmanager with the repository's own
// rules and routing. It checks what a user would check, through Prometheus' query API
// and Alertmanager's webhooks. Each subtest has its own broker, exporter and servers,
// so the fixed events of one never meet the live traffic of the other. About a minute.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test (Prometheus, Alertmanager, about a minute): skipped with -short")
	}
	for _, bin := range []string{"prometheus", "prometheus-alertmanager", "promtool"} {
		testtool.Path(t, bin, "make deps installs Debian's prometheus and prometheus-alertmanager")
	}
	t.Run("HistogramQuantile", testHistogramQuantile)
	t.Run("RateAndAlerts", testRateAndAlerts)
}

const (
	inputTopic = "requests"
	// histEvents events, histSpacing µs apart, span 600 s - 30 ms: one 10m window.
	histEvents  = 20000
	histSpacing = 30_000
)

// testHistogramQuantile: a fixed set of events inside one 10m window, closed by a
// marker event per input partition (stage 2 closes a window once every input
// partition's watermark has passed it). Prometheus' histogram_quantile over the exported native
// histogram must agree with the window's exported P99, and both with the exact P99.
func testHistogramQuantile(t *testing.T) {
	b := startBroker(t)
	// Two hours ago: a window that closes as soon as a partition sees a later event.
	now := time.Now().UnixMilli()
	start := now - 2*3600_000
	start -= start % 600_000
	gen := loadgen.Config{Seed: 7}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := loadgen.Preload(ctx, producer(t, b.Addr()), loadgen.New(gen), inputTopic, histEvents, start, histSpacing, nil); err != nil {
		t.Fatal(err)
	}
	// One marker per partition, after the window: each partition's stream time passes
	// the window's end, and so does the watermark stage 2 closes the window at. The markers carry no latency
	// (the value is optional in this configuration): they count as requests but leave
	// the latency sketch, and so the exported histogram, with exactly the window's events.
	var markers []*kgo.Record
	for p := range int32(3) {
		markers = append(markers, &kgo.Record{Topic: inputTopic, Partition: p,
			Value: fmt.Appendf(nil, `{"timestamp":%d,"endpoint":"/marker","method":"GET","status":200}`, start+20*60_000)})
	}
	if err := producer(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(ctx, markers...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	exporter := startExporter(t, testConfig(t, b.Addr(), `
events:
  timestamp: {field: timestamp, unit: ms}
  value: {field: latency_ms, unit: ms, required: false}
  status: {field: status}
aggregations:
  - name: all_10m
    group_by: []
    window: {type: tumbling, size: 10m}
    quantiles: [0.99]
metrics:
  histogram_schema: 6 # the sketch's schema: the histogram has the sketch's own buckets
`))
	prom := startPrometheus(t, exporter, "", "")

	// The window has closed and been scraped.
	var ex, hq float64
	waitFor(t, 30*time.Second, func() (bool, string) {
		n := prom.value(t, `sum(kwindow_all_10m_window_requests)`)
		c := prom.value(t, `histogram_count(sum(kwindow_all_10m_latency_seconds))`)
		ex = prom.value(t, `kwindow_all_10m_window_latency_seconds{q="0.99"}`)
		hq = prom.value(t, `histogram_quantile(0.99, sum(kwindow_all_10m_latency_seconds))`)
		return n == histEvents && c == histEvents,
			fmt.Sprintf("window count %v and histogram count %v, want %d", n, c, histEvents)
	})

	// The key (group_by: [], one key) is one series, with no partition label.
	if n := prom.value(t, `count(kwindow_all_10m_requests_total)`); n != 1 {
		t.Errorf("%v kwindow_all_10m_requests_total series, want 1 (one per key)", n)
	}
	if n := prom.value(t, `count(kwindow_all_10m_latency_seconds{partition!=""})`); !math.IsNaN(n) {
		t.Errorf("%v latency histograms with a partition label, want none", n)
	}

	// The exact P99: the same generator draws the same events for the same times.
	g := loadgen.New(gen)
	vals := make([]float64, histEvents)
	for i := range vals {
		vals[i] = g.Next(start+int64(i)*histSpacing/1000).LatencyMs * 1e-3
	}
	slices.Sort(vals)
	exact := vals[int(math.Ceil(0.99*histEvents))-1]

	// Both figures come from the same schema-6 buckets: the exported P99 is the sketch's
	// representative point of the bucket (l, u] holding the value of rank ceil(0.99·n)
	// (within 0.54 % of it), and histogram_quantile finds the same bucket (the first
	// whose cumulative count reaches 0.99·n) and interpolates linearly inside it. Two
	// points of one bucket differ by at most u - l = l·(2^(1/64) - 1), about 1.09 % of
	// the smaller; the same holds between histogram_quantile and the exact value.
	width := math.Exp2(1.0/64) - 1
	t.Logf("P99 of %d events: Prometheus histogram_quantile %.6fs, exported %.6fs (%+.3f%%), exact %.6fs",
		histEvents, hq, ex, (hq/ex-1)*100, exact)
	if d := math.Abs(hq - ex); d > width*math.Min(hq, ex)*(1+1e-9) {
		t.Errorf("histogram_quantile %v and the exported P99 %v differ by %.3f%%, more than one schema-6 bucket (%.3f%%)",
			hq, ex, d/math.Min(hq, ex)*100, width*100)
	}
	if bound := sketch.RelativeError(6); math.Abs(ex-exact) > bound*exact*(1+1e-9) {
		t.Errorf("exported P99 %v is %.3f%% from the exact %v, more than the sketch's %.3f%%", ex, (ex/exact-1)*100, exact, bound*100)
	}
	if math.Abs(hq-exact) > width*exact*(1+1e-9) {
		t.Errorf("histogram_quantile %v is %.3f%% from the exact %v, more than one schema-6 bucket", hq, (hq/exact-1)*100, exact)
	}
}

const (
	liveRate   = 3000 // events/s
	warmup     = 20 * time.Second
	spikeFor   = 30 * time.Second
	spikePath  = "/api/checkout"
	rateWindow = "15s"
)

// testRateAndAlerts: live traffic at liveRate events/s with event time = wall clock,
// 1s windows, and after warm-up an error spike on /api/checkout. Prometheus' rate of
// the request counters must match the produced rate, and the real rules and routing
// must page for the high error ratio and warn of the anomaly on that endpoint only.
func testRateAndAlerts(t *testing.T) {
	b := startBroker(t)
	// endpoint_1m keeps its name, so that the real rules apply, with 1s windows.
	exporter := startExporter(t, testConfig(t, b.Addr(), `
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1s}
    grace: 200ms
    quantiles: [0.5, 0.95, 0.99]
    anomaly: {measures: [p99, error_ratio, count], alpha: 0.1, warmup: 10}
`))

	hook := &webhook{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	amConfig := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, amConfig, fastAlertmanager(t, readFile(t, "../alerts/alertmanager.yml"), srv.URL))
	rules := filepath.Join(dir, "kwindow.rules.yml")
	writeFile(t, rules, fastRules(t, readFile(t, "../alerts/kwindow.rules.yml")))
	am := startServer(t, "prometheus-alertmanager", "--config.file="+amConfig,
		"--storage.path="+filepath.Join(dir, "am-data"), "--cluster.listen-address=")
	prom := startPrometheus(t, exporter, rules, am)
	var groups struct {
		Groups []struct {
			Rules []struct {
				Name     string  `json:"name"`
				Duration float64 `json:"duration"`
			} `json:"rules"`
		} `json:"groups"`
	}
	prom.get(t, "/api/v1/rules", &groups)
	loaded := map[string]float64{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			loaded[r.Name] = r.Duration
		}
	}
	if loaded["KwindowHighErrorRatio"] != 2 || loaded["KwindowErrorRatioAnomaly"] != 2 {
		t.Fatalf("Prometheus has not loaded the scaled rules (for: 2m → 2s): %v", loaded)
	}

	ctx, stop := context.WithCancel(context.Background())
	t0 := time.Now()
	spikeStart, spikeEnd := t0.Add(warmup), t0.Add(warmup+spikeFor)
	gen := loadgen.New(loadgen.Config{Seed: 1, Incidents: []loadgen.Incident{{Kind: loadgen.ErrorSpike, Endpoint: spikePath,
		Start: spikeStart.UnixMilli(), End: spikeEnd.UnixMilli(), ErrorRate: 0.5}}})
	cl := producer(t, b.Addr())
	produced := make(chan loadgen.ProduceStats, 1)
	go func() {
		st, err := loadgen.Produce(ctx, cl, gen, loadgen.ProduceOptions{Topic: inputTopic, Rate: liveRate})
		if err != nil {
			t.Errorf("load generator: %v", err)
		}
		produced <- st
	}()
	t.Cleanup(func() {
		stop()
		st := <-produced
		t.Logf("load generator: %d events in %v, %.0f/s", st.Produced, st.Elapsed.Round(time.Millisecond), st.Rate)
	})

	// 1. The request rate, once Prometheus has more than rateWindow of steady samples.
	time.Sleep(time.Until(spikeStart))
	for i := range 3 {
		if i > 0 {
			time.Sleep(4 * time.Second)
		}
		r := prom.value(t, `sum(rate(kwindow_endpoint_1m_requests_total[`+rateWindow+`]))`)
		t.Logf("sum(rate(kwindow_endpoint_1m_requests_total[%s])) = %.1f/s, %.3f of the produced %d/s", rateWindow, r, r/liveRate, liveRate)
		if math.Abs(r/liveRate-1) > 0.10 {
			t.Errorf("Prometheus sees %.1f requests/s, produced %d/s: more than 10%% off", r, liveRate)
		}
	}

	// 2. A real scrape of /metrics in the text format passes promtool's lint.
	checkMetrics(t, exporter)

	// 3. The alerts reach Alertmanager's receivers. Wait for both, and until the spike
	// is over so that an alert for another endpoint would have had its chance.
	want := []struct{ alert, receiver string }{
		{"KwindowHighErrorRatio", "/pager"},
		{"KwindowErrorRatioAnomaly", "/team"},
	}
	deadline := spikeEnd.Add(15 * time.Second)
	for time.Now().Before(deadline) {
		done := time.Now().After(spikeEnd)
		for _, w := range want {
			if _, ok := hook.first(w.alert, spikePath, spikeStart); !ok {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, w := range want {
		n, ok := hook.first(w.alert, spikePath, spikeStart)
		if !ok {
			t.Errorf("no firing %s{endpoint=%q} reached Alertmanager's webhook within %v of the spike's start",
				w.alert, spikePath, deadline.Sub(spikeStart))
			continue
		}
		t.Logf("%s{endpoint=%q} reached %s %.1fs after the spike started", w.alert, spikePath, n.receiver, n.at.Sub(spikeStart).Seconds())
		if n.receiver != w.receiver {
			t.Errorf("%s went to %s, want %s", w.alert, n.receiver, w.receiver)
		}
	}
	for _, n := range hook.all() {
		if n.labels["alertname"] == "KwindowHighErrorRatio" && n.status == "firing" && n.labels["endpoint"] != spikePath {
			t.Errorf("KwindowHighErrorRatio fired for %q (at %+.1fs from the spike's start): only %s had errors",
				n.labels["endpoint"], n.at.Sub(spikeStart).Seconds(), spikePath)
		}
		// Every latency profile keeps its P99 under the rule's 1 s: with no latency
		// incident, normal traffic must not page anyone about latency.
		if n.labels["alertname"] == "KwindowHighLatencyP99" && n.status == "firing" {
			t.Errorf("KwindowHighLatencyP99 fired for %q on normal traffic (at %+.1fs from the error spike's start)",
				n.labels["endpoint"], n.at.Sub(spikeStart).Seconds())
		}
	}
	if t.Failed() {
		for _, n := range hook.all() {
			t.Logf("webhook %s %+.1fs: %s %v", n.receiver, n.at.Sub(spikeStart).Seconds(), n.status, n.labels)
		}
	}
}

// testConfig is the configuration yml (aggregations and the like) against the broker
// at addr, with a state directory of the test's own.
func testConfig(t *testing.T, addr, yml string) *config.Config {
	t.Helper()
	yml += fmt.Sprintf(`
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: e2e, instance_id: e2e, input_topic: %s, idle_timeout: 0s}
state: {dir: %q}
`, addr, inputTopic, t.TempDir())
	cfg, err := config.Parse("e2e.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0", Partitions: 3, Topics: []string{inputTopic}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func producer(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// startExporter runs serveStream on a free loopback port until the test ends and
// returns that address once /readyz answers 200.
func startExporter(t *testing.T, cfg *config.Config) string {
	t.Helper()
	addr := testtool.FreeAddr(t)
	logs := &testtool.Buffer{}
	g := &globals{
		web: &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = serveStream(ctx, cfg, g, nil)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
			if runErr != nil {
				t.Errorf("kwindow: %v", runErr)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("kwindow did not stop within 30s of its context's end")
		}
		if t.Failed() {
			t.Logf("kwindow's log (end):\n%s", tail(logs.String()))
		}
	})
	waitReady(t, "http://"+addr+"/readyz", stopped)
	return addr
}

// startPrometheus runs Prometheus scraping kwindow at exporter every second as job
// "kwindow" (the job prometheus.yml names and the rules expect), with native
// histograms, and with rules and an Alertmanager when given.
func startPrometheus(t *testing.T, exporter, rules, alertmanager string) promAPI {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: kwindow
    static_configs: [{targets: [%q]}]
`, exporter)
	if rules != "" {
		cfg += fmt.Sprintf("rule_files: [%q]\n", rules)
	}
	if alertmanager != "" {
		cfg += fmt.Sprintf("alerting: {alertmanagers: [{static_configs: [{targets: [%q]}]}]}\n", alertmanager)
	}
	writeFile(t, filepath.Join(dir, "prometheus.yml"), []byte(cfg))
	p := promAPI(startServer(t, "prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--enable-feature=native-histograms",
		"--rules.alert.resend-delay=1s"))
	waitFor(t, 15*time.Second, func() (bool, string) {
		up := p.value(t, `up{job="kwindow"}`)
		return up == 1, fmt.Sprintf("up{job=\"kwindow\"} is %v", up)
	})
	return p
}

// startServer runs a Prometheus-style server (bin) on a free loopback port until the
// test ends and returns its address once /-/ready answers 200. Its output goes to a
// file, shown if the test fails.
func startServer(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := testtool.FreeAddr(t)
	out, err := os.Create(filepath.Join(t.TempDir(), bin+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append(args, "--web.listen-address="+addr)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			log, _ := os.ReadFile(out.Name())
			t.Logf("%s's output (end):\n%s", bin, tail(string(log)))
		}
		out.Close()
	})
	waitReady(t, "http://"+addr+"/-/ready", exited)
	return addr
}

// fastRules returns the rules with every `for` scaled from minutes to seconds.
func fastRules(t *testing.T, data []byte) []byte {
	t.Helper()
	n := 0
	out := editYAML(t, data, func(key, value *yaml.Node) {
		if key.Value == "for" {
			d, err := model.ParseDuration(value.Value)
			if err != nil {
				t.Fatalf("rules: for: %v", err)
			}
			value.Value = model.Duration(time.Duration(d) / 60).String()
			n++
		}
	})
	if n == 0 {
		t.Fatal("rules: no `for` to scale")
	}
	return out
}

// fastAlertmanager returns the Alertmanager configuration with its webhooks on
// 127.0.0.1:5001 moved to hook and every group_wait and group_interval at 1s.
func fastAlertmanager(t *testing.T, data []byte, hook string) []byte {
	t.Helper()
	const receivers = "http://127.0.0.1:5001"
	urls := 0
	out := editYAML(t, data, func(key, value *yaml.Node) {
		switch key.Value {
		case "group_wait", "group_interval":
			value.Value = "1s"
		case "url":
			if rest, ok := strings.CutPrefix(value.Value, receivers); ok {
				value.Value = hook + rest
				urls++
			}
		}
	})
	if urls == 0 {
		t.Fatalf("alertmanager.yml: no webhook on %s to redirect", receivers)
	}
	return out
}

// editYAML calls f with every key and value of every mapping in the document.
func editYAML(t *testing.T, data []byte, f func(key, value *yaml.Node)) []byte {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				f(n.Content[i], n.Content[i+1])
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	out, err := yaml.Marshal(&root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkMetrics lints a scrape of kwindow's /metrics, text format, with promtool.
func checkMetrics(t *testing.T, exporter string) {
	t.Helper()
	resp, err := http.Get("http://" + exporter + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics without Accept answered %q, want the text format", ct)
	}
	cmd := exec.Command(testtool.Path(t, "promtool", "make deps installs Debian's prometheus"), "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics on a scrape of %d bytes: %v\n%s", len(body), err, out)
	} else {
		t.Logf("promtool check metrics: a scrape of %d bytes passes%s", len(body), bytes.TrimRight(append([]byte("\n"), out...), "\n"))
	}
}

// promAPI is the address of a Prometheus server.
type promAPI string

func (p promAPI) get(t *testing.T, path string, data any) {
	t.Helper()
	resp, err := http.Get("http://" + string(p) + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if r.Status != "success" {
		t.Fatalf("GET %s: %s", path, r.Error)
	}
	if err := json.Unmarshal(r.Data, data); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// value is the one float sample of an instant query; NaN when the result is empty.
func (p promAPI) value(t *testing.T, expr string) float64 {
	t.Helper()
	var data struct {
		Result []struct {
			Value [2]json.RawMessage `json:"value"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(expr), &data)
	switch len(data.Result) {
	case 0:
		return math.NaN()
	case 1:
	default:
		t.Fatalf("%s: %d series, want one", expr, len(data.Result))
	}
	var s string
	if err := json.Unmarshal(data.Result[0].Value[1], &s); err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// webhook records the alerts Alertmanager sends, with the receiver (the URL path).
type webhook struct {
	mu  sync.Mutex
	got []notification
}

type notification struct {
	at       time.Time
	receiver string
	status   string
	labels   map[string]string
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range msg.Alerts {
		h.got = append(h.got, notification{at: time.Now(), receiver: r.URL.Path, status: a.Status, labels: a.Labels})
	}
}

func (h *webhook) all() []notification {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// first is the first firing notification of alert for endpoint after since.
func (h *webhook) first(alert, endpoint string, since time.Time) (notification, bool) {
	for _, n := range h.all() {
		if n.status == "firing" && n.labels["alertname"] == alert && n.labels["endpoint"] == endpoint && n.at.After(since) {
			return n, true
		}
	}
	return notification{}, false
}

// waitReady polls url until it answers 200, failing if exited closes first.
func waitReady(t *testing.T, url string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("exited before %s answered", url)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 30s: %s", url, last)
}

// waitFor polls cond every 250ms until it holds, failing with its last explanation
// after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, why)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tail is the end of a log, enough to see why something failed.
func tail(s string) string {
	const keep = 6000
	if len(s) > keep {
		return "…" + s[len(s)-keep:]
	}
	return s
}
