package metrics

import (
	"bytes"
	"flag"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const minute = int64(60000)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count, errors, error_ratio]
    quantiles: [0.5, 0.99]
    anomaly: {measures: [count, error_ratio, p99], alpha: 0.5, warmup: 3}
metrics: {histogram_schema: 0, idle_windows: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func group(v string) string { return string(store.AppendGroup(nil, []byte(v))) }

// window builds a closed window of n events, errors of them 5xx, with latencies ms.
func window(start int64, n, errors int, ms float64) engine.Change {
	a := aggregate.New(6, true)
	for i := 0; i < n; i++ {
		c := event.OK
		if i < errors {
			c = event.ServerError
		}
		a.Add(&event.Event{Value: ms / 1000, HasValue: true, Class: c})
	}
	return engine.Change{Start: start, Value: aggregate.Value{End: start + minute, Last: start + minute - 1, Agg: a}}
}

func total(n, client, server uint64, ms float64) engine.Change {
	a := aggregate.New(6, true)
	for i := uint64(0); i < n; i++ {
		c := event.OK
		switch {
		case i < client:
			c = event.ClientError
		case i < client+server:
			c = event.ServerError
		}
		a.Add(&event.Event{Value: ms / 1000, HasValue: true, Class: c})
	}
	return engine.Change{Start: engine.TotalStart, Value: aggregate.Value{End: engine.TotalStart, Agg: a}}
}

func withKey(c engine.Change, g string) engine.Change { c.Group = g; return c }

func gatherText(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestExposition: /a belongs to partition 0 and /b to partition 1, as stage 2
// routes keys; each key has one series per family, without a partition label.
// Compared with a golden file (go test -update rewrites it).
func TestExposition(t *testing.T) {
	v := NewView(testConfig(t))
	v.now = func() time.Time { return time.Unix(1795341700, 0) }
	a, b := group("/a"), group("/b")
	v.Active(0, 0, []engine.Change{withKey(total(10, 1, 2, 20), a)})
	v.Active(1, 0, nil)
	v.Committed([]stream.Commit{
		{Partition: 0, StreamTime: 2 * minute, Closed: []engine.Change{withKey(window(0, 10, 4, 10), a)},
			Totals: []engine.Change{withKey(total(16, 1, 3, 10), a)}},
		{Partition: 1, StreamTime: 2 * minute, Closed: []engine.Change{withKey(window(0, 5, 0, 5), b)},
			Totals: []engine.Change{withKey(total(5, 0, 0, 5), b)}},
	})
	got := gatherText(t, NewCollector(v))
	golden := filepath.Join("testdata", "exposition.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("exposition differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	// What a user checks: the window of /a counts 10 events, 4 of them 5xx; /b
	// had no errors and says 0, not nothing; one counter per key.
	for _, line := range []string{
		`kwindow_endpoint_1m_window_requests{endpoint="/a"} 10`,
		`kwindow_endpoint_1m_window_error_ratio{endpoint="/a"} 0.4`,
		`kwindow_endpoint_1m_window_error_ratio{endpoint="/b"} 0`,
		`kwindow_endpoint_1m_requests_total{endpoint="/a"} 16`,
		`kwindow_endpoint_1m_requests_total{endpoint="/b"} 5`,
		`kwindow_endpoint_1m_errors_total{class="server",endpoint="/a"} 3`,
		`kwindow_endpoint_1m_errors_total{class="server",endpoint="/b"} 0`,
		`kwindow_endpoint_1m_latency_seconds_count{endpoint="/b"} 5`,
		`kwindow_window_split_keys{aggregation="endpoint_1m"} 0`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("exposition lacks %s", line)
		}
	}
	if strings.Contains(got, "partition=") {
		t.Errorf("exposition has a partition label:\n%s", got)
	}
}

// TestPromtoolCheckMetrics lints the exposition with Debian's promtool.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := testtool.Path(t, "promtool", "make deps installs Debian's prometheus")
	v := NewView(testConfig(t))
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2 * minute,
		Closed: []engine.Change{withKey(window(0, 6, 1, 10), group("/a"))}, Totals: []engine.Change{withKey(total(6, 0, 1, 10), group("/a"))}}})
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(gatherText(t, NewCollector(v)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestAnomalyScores(t *testing.T) {
	v := NewView(testConfig(t))
	a := group("/a")
	c := NewCollector(v)
	score := func(measure string) (float64, bool) {
		for _, line := range strings.Split(gatherText(t, c), "\n") {
			prefix := `kwindow_endpoint_1m_anomaly_score{endpoint="/a",measure="` + measure + `"} `
			if strings.HasPrefix(line, prefix) {
				var f float64
				_, err := fmtSscan(strings.TrimPrefix(line, prefix), &f)
				return f, err == nil
			}
		}
		return 0, false
	}
	// Windows of 100, 110, 90, 100 events: the first three are warm-up, then scored.
	counts := []int{100, 110, 90, 100, 400}
	for i, n := range counts {
		start := int64(i) * minute
		v.Committed([]stream.Commit{{Partition: 0, StreamTime: start + minute + 10000,
			Closed: []engine.Change{withKey(window(start, n, 0, 10), a)}}})
		_, ok := score("count")
		if i < 3 && ok {
			t.Fatalf("window %d scored during warm-up", i)
		}
		if i >= 3 && !ok {
			t.Fatalf("window %d not scored after warm-up", i)
		}
	}
	// After 100, 110, 90, 100 (alpha 0.5): mean and variance by the EWMA recurrence.
	mean, vr := 100.0, 0.0
	for _, x := range []float64{110, 90, 100} {
		d := x - mean
		mean += 0.5 * d
		vr = 0.5 * (vr + 0.5*d*d)
	}
	want := (400 - mean) / math.Sqrt(vr)
	if got, _ := score("count"); math.Abs(got-want) > 1e-9 {
		t.Errorf("count z-score %v, want %v", got, want)
	}
	if got, _ := score("error_ratio"); got != 0 {
		t.Errorf("error_ratio z-score %v for a flat zero history, want 0", got)
	}
}

// TestHygiene: a key with no window for idle_windows windows disappears; a
// partition that leaves takes its keys along, counters and window gauges: its
// new owner exports them.
func TestHygiene(t *testing.T) {
	v := NewView(testConfig(t))
	a, b := group("/a"), group("/b")
	c := NewCollector(v)
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000,
		Closed: []engine.Change{withKey(window(0, 5, 0, 10), a), withKey(window(0, 5, 0, 10), b)},
		Totals: []engine.Change{withKey(total(5, 0, 0, 10), a), withKey(total(5, 0, 0, 10), b)}}})
	for i := int64(1); i <= 3; i++ { // only /a goes on
		v.Committed([]stream.Commit{{Partition: 0, StreamTime: (i+1)*minute + 10000,
			Closed: []engine.Change{withKey(window(i*minute, 5, 0, 10), a)}}})
		text := gatherText(t, c)
		present := strings.Contains(text, `endpoint="/b"`)
		if idle := i > 2; present == idle {
			t.Errorf("after %d windows without /b: exported %v, want %v", i, present, !idle)
		}
	}
	v.Inactive(0)
	if text := gatherText(t, c); strings.Contains(text, "requests_total") {
		t.Errorf("counters of a partition that left are still exported:\n%s", text)
	}
	if n := testutil.CollectAndCount(c, "kwindow_endpoint_1m_window_requests"); n != 0 {
		t.Errorf("%d window gauges of a partition that left, want 0", n)
	}
}

// TestNativeHistogram: the latency histogram is native, downscaled to
// metrics.histogram_schema, and its buckets hold every event.
func TestNativeHistogram(t *testing.T) {
	v := NewView(testConfig(t))
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute,
		Totals: []engine.Change{withKey(total(16, 0, 0, 10), group("/a"))}}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(v))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kwindow_endpoint_1m_latency_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		var n int64
		var cur int64
		for _, d := range h.GetPositiveDelta() {
			cur += d
			n += cur
		}
		if h.GetSchema() != 0 || h.GetSampleCount() != 16 || uint64(n)+h.GetZeroCount() != 16 {
			t.Fatalf("native histogram schema %d count %d buckets hold %d, want schema 0 and 16 in both", h.GetSchema(), h.GetSampleCount(), n)
		}
		// 10 ms lies in (2^-7, 2^-6]: one bucket, index -6 at schema 0.
		if sp := h.GetPositiveSpan(); len(sp) != 1 || sp[0].GetOffset() != -6 || sp[0].GetLength() != 1 {
			t.Errorf("spans %v, want one bucket at index -6", sp)
		}
		return
	}
	t.Fatal("no latency histogram exported")
}

// TestAnomalyStepKeepsScoring: a lasting step (errors from ~1% to 3%) must score
// above 4 for several windows in a row, or "for: 2m" alerts would never fire.
func TestAnomalyStepKeepsScoring(t *testing.T) {
	var e ewma
	xs := []float64{0.010, 0.012, 0.009, 0.011, 0.010, 0.008, 0.012, 0.010, 0.011, 0.009, 0.010, 0.011}
	for _, x := range xs {
		e.observe(x, 0.1, 10)
	}
	above := 0
	for i := 0; i < 6; i++ {
		e.observe(0.03, 0.1, 10)
		if e.score > 4 {
			above++
		}
	}
	if above < 3 {
		t.Errorf("a lasting 3x step scored above 4 in %d of 6 windows, want at least 3", above)
	}
	// And noise like the history does not.
	var n ewma
	for _, x := range append(xs, 0.012, 0.009, 0.011) {
		n.observe(x, 0.1, 10)
		if n.hasScore && math.Abs(n.score) > 4 {
			t.Errorf("noise value %v scored %v", x, n.score)
		}
	}
}

// TestMissingKeyCountsZero: a key with no event in the newest complete window
// exports a count of 0 (until it goes idle), so a stop shows at once.
func TestMissingKeyCountsZero(t *testing.T) {
	v := NewView(testConfig(t))
	a, b := group("/a"), group("/b")
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000,
		Closed: []engine.Change{withKey(window(0, 5, 0, 10), a), withKey(window(0, 5, 0, 10), b)}}})
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2*minute + 10000,
		Closed: []engine.Change{withKey(window(minute, 5, 0, 10), a)}}})
	text := gatherText(t, NewCollector(v))
	if !strings.Contains(text, `kwindow_endpoint_1m_window_requests{endpoint="/b"} 0`+"\n") {
		t.Errorf("/b, absent from the newest window, does not export 0:\n%s", text)
	}
	if strings.Contains(text, `window_error_ratio{endpoint="/b"}`) {
		t.Errorf("/b exports an error ratio for a window it had no event in")
	}
}

// TestWindowQuantilesAreGauges: the window quantiles are a gauge family with the
// q label, and no _count or _sum: a window's count and sum are no running
// totals, so exporting them as a summary's would break rate().
func TestWindowQuantilesAreGauges(t *testing.T) {
	v := NewView(testConfig(t))
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2 * minute,
		Closed: []engine.Change{withKey(window(0, 6, 1, 10), group("/a"))}}})
	text := gatherText(t, NewCollector(v))
	for _, want := range []string{
		"# TYPE kwindow_endpoint_1m_window_latency_seconds gauge\n",
		`kwindow_endpoint_1m_window_latency_seconds{endpoint="/a",q="0.5"} 0.01` + "\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"summary", "window_latency_seconds_count", "window_latency_seconds_sum", "quantile="} {
		if strings.Contains(text, bad) {
			t.Errorf("exposition has %q:\n%s", bad, text)
		}
	}
}

// TestLastCloseAbsentUntilAClose: kwindow_window_last_close_timestamp_seconds is
// absent until a window closes, then the wall time of the commit that closed it.
func TestLastCloseAbsentUntilAClose(t *testing.T) {
	v := NewView(testConfig(t))
	v.now = func() time.Time { return time.Unix(1795341700, 0) }
	c := NewCollector(v)
	const series = `kwindow_window_last_close_timestamp_seconds{aggregation="endpoint_1m"}`
	v.Active(0, 0, nil)
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 30000,
		Totals: []engine.Change{withKey(total(3, 0, 0, 10), group("/a"))}}})
	if got, ok := sample(t, gatherText(t, c), series); ok {
		t.Fatalf("exported %v before any window closed", got)
	}
	v.now = func() time.Time { return time.Unix(1795341760, 0) }
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000,
		Closed: []engine.Change{withKey(window(0, 3, 0, 10), group("/a"))}}})
	if got, ok := sample(t, gatherText(t, c), series); !ok || got != 1795341760 {
		t.Errorf("after a close: %v (present %v), want 1795341760", got, ok)
	}
}

// TestUnitlessValues: with events.value.unit none the values are no durations:
// their families are kwindow_A_value and kwindow_A_window_value, and nothing
// of the aggregation ends in _seconds.
func TestUnitlessValues(t *testing.T) {
	v := NewView(parseConfig(t, `
events:
  value: {field: value, unit: none}
  dimensions: [{name: host}]
aggregations:
  - name: cpu_1m
    group_by: [host]
    window: {type: tumbling, size: 1m}
    quantiles: [0.9]
metrics: {classic_buckets: [0.25, 0.5, 0.75, 1]}
`))
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 2 * minute,
		Closed: []engine.Change{withKey(window(0, 4, 0, 700), group("a"))},
		Totals: []engine.Change{withKey(totalOf([]float64{0.7, 0.7, 0.7, 0.2}), group("a"))}}})
	text := gatherText(t, NewCollector(v))
	for _, want := range []string{
		"# TYPE kwindow_cpu_1m_value histogram\n",
		`kwindow_cpu_1m_value_bucket{host="a",le="0.25"} 1` + "\n",
		`kwindow_cpu_1m_value_bucket{host="a",le="0.75"} 4` + "\n",
		"# TYPE kwindow_cpu_1m_window_value gauge\n",
		`kwindow_cpu_1m_window_value{host="a",q="0.9"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "kwindow_cpu_1m_") && strings.Contains(strings.Fields(line)[0], "_seconds") {
			t.Errorf("a unitless value exported in seconds: %s", line)
		}
	}
}
