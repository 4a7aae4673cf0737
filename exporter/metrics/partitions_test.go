package metrics

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/stream"
)

// TestSeriesDoNotGrowWithPartitions: the same 500 keys, each owned by one
// partition as stage 2 routes them, give the same series through 6 and through
// 48 partitions: 11 per key (requests, 2 error classes, the histogram, the
// window's count, ratio, 2 quantiles and 3 anomaly scores) and 4 per
// aggregation, none with a partition label.
func TestSeriesDoNotGrowWithPartitions(t *testing.T) {
	const keys, warmup = 500, 3
	const perKey, perAgg = 1 + 2 + 1 + 1 + 1 + 2 + 3, 4
	groups := make([]string, keys)
	for i := range groups {
		groups[i] = group(fmt.Sprintf("/api/%d", i))
	}
	series := func(partitions int) (int, map[string]bool) {
		v := NewView(testConfig(t))
		for p := range partitions {
			v.Active(int32(p), engine.NoTime, nil)
		}
		for w := int64(0); w <= warmup; w++ { // warmup+1 windows: every key is scored
			commits := make([]stream.Commit, partitions)
			for p := range commits {
				commits[p] = stream.Commit{Partition: int32(p), StreamTime: (w+1)*minute + 10000}
			}
			for i, g := range groups {
				c := &commits[ownerOf(g, partitions)]
				c.Totals = append(c.Totals, withKey(total(uint64(10*(w+1)), 1, 1, 20), g))
				c.Closed = append(c.Closed, withKey(window(w*minute, 10+i%3, 1, 20), g))
			}
			v.Committed(commits)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(NewCollector(v))
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n, labels := 0, map[string]bool{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				n++
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = true
				}
			}
		}
		return n, labels
	}
	n6, labels6 := series(6)
	n48, labels48 := series(48)
	if want := keys*perKey + perAgg; n6 != want || n48 != want {
		t.Errorf("series per scrape: %d through 6 partitions, %d through 48; want %d for both", n6, n48, want)
	}
	if labels6["partition"] || labels48["partition"] {
		t.Errorf("series carry a partition label")
	}
}

// TestKeyOnTwoPartitions: keys are never reported by two partitions, but should
// one be, its series sum both, the split gauge counts it, and when one partition
// leaves the other's part stays.
func TestKeyOnTwoPartitions(t *testing.T) {
	v := NewView(testConfig(t))
	c := NewCollector(v)
	a := group("/a")
	t0, t1 := withKey(total(10, 1, 2, 10), a), withKey(total(6, 0, 3, 300), a)
	v.Committed([]stream.Commit{
		{Partition: 0, StreamTime: minute + 10000, Totals: []engine.Change{t0}, Closed: []engine.Change{withKey(window(0, 6, 1, 10), a)}},
		{Partition: 1, StreamTime: minute + 10000, Totals: []engine.Change{t1}, Closed: []engine.Change{withKey(window(0, 4, 3, 10), a)}},
	})
	text := gatherText(t, c)
	for _, line := range []string{
		`kwindow_endpoint_1m_requests_total{endpoint="/a"} 16`,
		`kwindow_endpoint_1m_errors_total{class="client",endpoint="/a"} 1`,
		`kwindow_endpoint_1m_errors_total{class="server",endpoint="/a"} 5`,
		`kwindow_endpoint_1m_latency_seconds_count{endpoint="/a"} 16`,
		`kwindow_endpoint_1m_window_requests{endpoint="/a"} 10`,
		`kwindow_window_split_keys{aggregation="endpoint_1m"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("exposition lacks %s:\n%s", line, text)
		}
	}
	if n := testutil.CollectAndCount(c, "kwindow_endpoint_1m_requests_total"); n != 1 {
		t.Errorf("%d requests_total series of one key, want 1", n)
	}
	// The native histogram is that of the two sketches merged.
	merged := t0.Value.Agg.Sketch.Clone()
	merged.Merge(t1.Value.Agg.Sketch)
	checkHist(t, gatherHist(t, c, "kwindow_endpoint_1m_latency_seconds"), referenceHistogram(t, merged, 0))

	v.Inactive(1)
	text = gatherText(t, c)
	for _, line := range []string{
		`kwindow_endpoint_1m_requests_total{endpoint="/a"} 10`,
		`kwindow_window_split_keys{aggregation="endpoint_1m"} 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("after partition 1 left, exposition lacks %s", line)
		}
	}
	v.Inactive(0)
	if n := testutil.CollectAndCount(c, "kwindow_endpoint_1m_requests_total"); n != 0 {
		t.Errorf("%d requests_total series after both partitions left, want 0", n)
	}
}

// TestSumHists: the sum of histograms at different schemas, negative and zero
// values included, is the histogram of the merged sketches at the lower schema.
func TestSumHists(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b histBuilder
	var hs []*hist
	merged := sketch.New(4)
	for _, schema := range []int32{4, 1, 3} {
		s := sketch.New(schema)
		for range 500 {
			x := rng.ExpFloat64() * 0.05
			switch rng.IntN(10) {
			case 0:
				x = -x
			case 1:
				x = 0
			}
			s.Add(x)
			merged.Add(x)
		}
		h := new(hist)
		b.build(h, s, schema)
		hs = append(hs, h)
	}
	sum := sumHists(hs)
	if sum.schema != 1 {
		t.Fatalf("schema %d, want 1 (the lowest)", sum.schema)
	}
	var got dto.Histogram
	sum.fill(&got)
	checkHist(t, &got, referenceHistogram(t, merged, 1))
}

func gatherHist(t *testing.T, c prometheus.Collector, name string) *dto.Histogram {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	t.Fatalf("no single %s series", name)
	return nil
}

// checkHist compares the native parts of two histograms.
func checkHist(t *testing.T, got, want *dto.Histogram) {
	t.Helper()
	if got.GetSchema() != want.GetSchema() || got.GetSampleCount() != want.GetSampleCount() || got.GetZeroCount() != want.GetZeroCount() {
		t.Errorf("schema/count/zero %d/%d/%d, want %d/%d/%d", got.GetSchema(), got.GetSampleCount(), got.GetZeroCount(),
			want.GetSchema(), want.GetSampleCount(), want.GetZeroCount())
	}
	if d := got.GetSampleSum() - want.GetSampleSum(); d > 1e-9 || d < -1e-9 {
		t.Errorf("sum %v, want %v", got.GetSampleSum(), want.GetSampleSum())
	}
	same := func(what string, gs, ws []*dto.BucketSpan, gd, wd []int64) {
		if fmt.Sprint(spansText(gs), gd) != fmt.Sprint(spansText(ws), wd) {
			t.Errorf("%s buckets %v %v, want %v %v", what, spansText(gs), gd, spansText(ws), wd)
		}
	}
	same("positive", got.GetPositiveSpan(), want.GetPositiveSpan(), got.GetPositiveDelta(), want.GetPositiveDelta())
	same("negative", got.GetNegativeSpan(), want.GetNegativeSpan(), got.GetNegativeDelta(), want.GetNegativeDelta())
}

func spansText(ss []*dto.BucketSpan) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "[%d:%d]", s.GetOffset(), s.GetLength())
	}
	return b.String()
}
