package plugin

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/experimental"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestAnomalies(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	resp := queryData(t, d, dataQuery("A", 15, minutes, map[string]any{"queryType": "anomalies", "aggregation": "endpoint_1m"}))
	fr := frameOf(t, resp.Responses["A"])
	names := []string{}
	for _, f := range fr.Fields {
		names = append(names, f.Name)
	}
	if fmt.Sprint(names) != "[time timeEnd title text tags]" {
		t.Fatalf("fields %v", names)
	}
	// /a in eu was steady (no error, the same latencies) until anomalyMinute:
	// its error ratio and p99 broke a flat history, and nothing else scored
	// past 3 (the other keys vary by at most ~1.3σ).
	if fr.Rows() != 2 {
		for i := range fr.Rows() {
			t.Log(fr.Fields[0].At(i), fr.Fields[3].At(i))
		}
		t.Fatalf("%d anomalies, want 2", fr.Rows())
	}
	for i, m := range []string{"error_ratio", "p99"} {
		at := fr.Fields[0].At(i).(time.Time).UnixMilli()
		if at != t0+anomalyMinute*minute || fr.Fields[1].At(i).(time.Time).UnixMilli() != at+minute {
			t.Errorf("anomaly %d at %v", i, fr.Fields[0].At(i))
		}
		title, text, tags := fr.Fields[2].At(i).(string), fr.Fields[3].At(i).(string), fr.Fields[4].At(i).(string)
		if title != m+` anomaly {endpoint="/a", region="eu"}` || !strings.Contains(text, "+∞") ||
			tags != "kwindow,anomaly,"+m+",endpoint=/a,region=eu" {
			t.Errorf("anomaly %d: %q %q %q", i, title, text, tags)
		}
	}
	// A lower threshold finds the ordinary variation too.
	resp = queryData(t, d, dataQuery("A", 15, minutes, map[string]any{"queryType": "anomalies", "aggregation": "endpoint_1m", "threshold": 0.5}))
	if n := frameOf(t, resp.Responses["A"]).Rows(); n <= 2 {
		t.Errorf("threshold 0.5: %d anomalies, want more than 2", n)
	}
	// region_5m has no sketch: rate and error_ratio only. eu's 5-minute window
	// holding anomalyMinute has 10 more errors than its history.
	resp = queryData(t, d, dataQuery("A", 15, minutes, map[string]any{"queryType": "anomalies", "aggregation": "region_5m"}))
	fr = frameOf(t, resp.Responses["A"])
	if fr.Rows() != 1 || fr.Fields[0].At(0).(time.Time).UnixMilli() != t0+25*minute || fr.Fields[2].At(0) != `error_ratio anomaly {region="eu"}` {
		for i := range fr.Rows() {
			t.Log(fr.Fields[0].At(i), fr.Fields[3].At(i))
		}
		t.Errorf("region_5m: %d anomalies, want eu's error ratio at minute 25", fr.Rows())
	}
}

func TestZScore(t *testing.T) {
	f := func(x float64, hist []float64, wantZ float64, wantOK bool) {
		t.Helper()
		z, _, _, ok := zScore(x, hist)
		if ok != wantOK || ok && !(z == wantZ || math.Abs(z-wantZ) < 1e-9) {
			t.Errorf("zScore(%v, %v) = %v %v, want %v %v", x, hist, z, ok, wantZ, wantOK)
		}
	}
	f(5, []float64{1, 1, 1, 1}, 0, false) // too short a history
	f(5, []float64{1, 1, 1, 1, 1}, math.Inf(1), true)
	f(0, []float64{1, 1, 1, 1, 1}, math.Inf(-1), true)
	f(1, []float64{1, 1, 1, 1, 1}, 0, true)
	f(4, []float64{1, 3, 1, 3, 1, 3}, 2, true) // mean 2, sd 1
	f(0, []float64{1, 3, 1, 3, 1, 3}, -2, true)
}

func TestLatestTable(t *testing.T) {
	// The last minute is still open.
	k := newKwindow(t, t0+(minutes-1)*minute+30_000)
	d := newDS(t, "", k.URL)
	resp := queryData(t, d, dataQuery("A", minutes-3, minutes, map[string]any{"queryType": "latest", "aggregation": "endpoint_1m",
		"measures": []string{"count", "error_ratio"}, "filters": []map[string]string{{"dim": "endpoint", "value": "/a"}}}))
	fr := frameOf(t, resp.Responses["A"])
	refs := reference(k.evs)
	var cols []string
	for _, f := range fr.Fields {
		cols = append(cols, f.Name)
	}
	if fmt.Sprint(cols) != "[endpoint region start end partial count error_ratio]" || fr.Rows() != 4 {
		t.Fatalf("columns %v, %d rows; want 4 rows (a closed and an open window of 2 keys)", cols, fr.Rows())
	}
	for i := range fr.Rows() {
		e, r := fr.Fields[0].At(i).(string), fr.Fields[1].At(i).(string)
		m := (fr.Fields[2].At(i).(time.Time).UnixMilli() - t0) / minute
		partial := fr.Fields[4].At(i).(bool)
		if wantPartial := m == minutes-1; partial != wantPartial || m < minutes-2 {
			t.Errorf("row %d: minute %d partial %v", i, m, partial)
		}
		x := refs[fmt.Sprintf("%s|%s|%d", e, r, m)]
		if got := *fr.Fields[5].At(i).(*float64); got != float64(x.count) {
			t.Errorf("row %d: count %v, want %d", i, got, x.count)
		}
		if got := *fr.Fields[6].At(i).(*float64); got != float64(x.serr)/float64(x.count) {
			t.Errorf("row %d: error ratio %v, want %d/%d", i, got, x.serr, x.count)
		}
	}
	if fr.Fields[6].Config.Unit != "percentunit" || len(fr.Meta.Notices) != 1 {
		t.Errorf("unit %q notices %+v", fr.Fields[6].Config.Unit, fr.Meta.Notices)
	}
}

func TestTopKTable(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	f := func(bottom bool, want []string) {
		t.Helper()
		resp := queryData(t, d, dataQuery("A", 0, minutes, map[string]any{"queryType": "topk", "aggregation": "endpoint_1m",
			"measures": []string{"count"}, "groupBy": []string{"endpoint", "region"}, "k": 3, "bottom": bottom}))
		fr := frameOf(t, resp.Responses["A"])
		refs := reference(k.evs)
		var got []string
		for i := range fr.Rows() {
			e, r := fr.Fields[0].At(i).(string), fr.Fields[1].At(i).(string)
			total := 0
			for m := range minutes {
				total += refs[fmt.Sprintf("%s|%s|%d", e, r, m)].count
			}
			if v := *fr.Fields[2].At(i).(*float64); v != float64(total) {
				t.Errorf("%s %s: count %v, want %d", e, r, v, total)
			}
			got = append(got, fmt.Sprintf("%s %s %d", e, r, total))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("bottom=%v: %v, want %v", bottom, got, want)
		}
	}
	// /a eu has 600 events (20 a minute), the others 630 each (20 + (m+ki+ri)%3
	// a minute); ties come in key order.
	f(false, []string{"/a us 630", "/b eu 630", "/b us 630"})
	f(true, []string{"/a eu 600", "/a us 630", "/b eu 630"})
}

// TestGoldenRange pins a small answer's whole JSON (types, labels, config,
// meta): its numbers are asserted against the reference in the tests above.
func TestGoldenRange(t *testing.T) {
	k := newKwindow(t, t0+(minutes-1)*minute+30_000)
	d := newDS(t, "", k.URL)
	resp := queryData(t, d, dataQuery("A", minutes-3, minutes, map[string]any{"aggregation": "endpoint_1m",
		"measures": []string{"count", "error_ratio", "p99"}, "groupBy": []string{"region"}, "legendFormat": "{{region}} {{measure}}",
		"filters": []map[string]string{{"dim": "endpoint", "value": "/a"}}}))
	r := resp.Responses["A"]
	// The executed query names the test server's random port.
	r.Frames[0].Meta.ExecutedQueryString = strings.Replace(r.Frames[0].Meta.ExecutedQueryString, k.URL, "http://kwindow-0:9897", 1)
	experimental.CheckGoldenJSONResponse(t, "testdata", "range", &r, *update)
}
