package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// closedAll is a stream time past the close of every window written.
const closedAll = t0 + (minutes+1)*minute

// frameOf returns the one frame of a successful response.
func frameOf(t *testing.T, r backend.DataResponse) *data.Frame {
	t.Helper()
	if r.Error != nil {
		t.Fatalf("error %v (status %d)", r.Error, r.Status)
	}
	if len(r.Frames) != 1 {
		t.Fatalf("%d frames, want 1", len(r.Frames))
	}
	return r.Frames[0]
}

func TestRangeWideFrameExact(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	resp := queryData(t, d, dataQuery("A", 0, minutes, map[string]any{"aggregation": "endpoint_1m",
		"measures": []string{"count", "p99"}, "legendFormat": "{{endpoint}} {{region}} {{measure}}"}))
	f := frameOf(t, resp.Responses["A"])
	if f.Meta.Type != data.FrameTypeTimeSeriesWide || f.RefID != "A" {
		t.Errorf("meta type %q refId %q, want timeseries-wide A", f.Meta.Type, f.RefID)
	}
	if f.Rows() != minutes || len(f.Fields) != 1+4*2 {
		t.Fatalf("%d rows, %d fields; want %d rows, 9 fields", f.Rows(), len(f.Fields), minutes)
	}
	for m := range minutes {
		if got := f.Fields[0].At(m).(time.Time); got.UnixMilli() != t0+int64(m)*minute {
			t.Fatalf("row %d time %v", m, got)
		}
	}
	refs := reference(k.evs)
	for _, fld := range f.Fields[1:] {
		e, r := fld.Labels["endpoint"], fld.Labels["region"]
		wantName := fmt.Sprintf("%s %s %s", e, r, fld.Name)
		if fld.Config.DisplayNameFromDS != wantName {
			t.Errorf("display name %q, want %q", fld.Config.DisplayNameFromDS, wantName)
		}
		wantUnit := map[string]string{"count": "short", "p99": "s"}[fld.Name]
		if fld.Config.Unit != wantUnit {
			t.Errorf("%s unit %q, want %q", fld.Name, fld.Config.Unit, wantUnit)
		}
		for m := range minutes {
			want := refs[fmt.Sprintf("%s|%s|%d", e, r, m)]
			got := *fld.At(m).(*float64)
			switch fld.Name {
			case "count":
				if got != float64(want.count) {
					t.Errorf("%s %s minute %d: count %v, want exactly %d", e, r, m, got, want.count)
				}
			case "p99":
				if exact := exactQuantile(want.lat, 0.99); !withinBound(got, exact) {
					t.Errorf("%s %s minute %d: p99 %v, exact %v: outside the sketch's bound", e, r, m, got, exact)
				}
			}
		}
	}
	for _, s := range []string{"/api/v1/query_range?", "aggregation=endpoint_1m", "step=1m", "measure=count", "measure=p99"} {
		if !strings.Contains(f.Meta.ExecutedQueryString, s) {
			t.Errorf("executed query %q lacks %q", f.Meta.ExecutedQueryString, s)
		}
	}
	if len(f.Meta.Notices) != 0 {
		t.Errorf("notices %v for a complete answer", f.Meta.Notices)
	}
}

func TestRangeGroupBy(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	refs := reference(k.evs)
	f := func(groupBy []string, wantSeries int) {
		t.Helper()
		resp := queryData(t, d, dataQuery("A", 10, 20, map[string]any{"aggregation": "endpoint_1m",
			"measures": []string{"count", "p50"}, "groupBy": groupBy}))
		fr := frameOf(t, resp.Responses["A"])
		if len(fr.Fields) != 1+2*wantSeries {
			t.Fatalf("group by %v: %d fields, want %d", groupBy, len(fr.Fields), 1+2*wantSeries)
		}
		for _, fld := range fr.Fields[1:] {
			if len(fld.Labels) != len(groupBy) {
				t.Errorf("group by %v: labels %v", groupBy, fld.Labels)
			}
			for row := range fr.Rows() {
				m := 10 + row
				count, lat := 0, []float64(nil)
				for _, e := range endpoints {
					for _, r := range regions {
						if v, ok := fld.Labels["endpoint"]; ok && v != e {
							continue
						}
						x := refs[fmt.Sprintf("%s|%s|%d", e, r, m)]
						count += x.count
						lat = append(lat, x.lat...)
					}
				}
				got := *fld.At(row).(*float64)
				if fld.Name == "count" && got != float64(count) {
					t.Errorf("group by %v %v minute %d: count %v, want %d", groupBy, fld.Labels, m, got, count)
				}
				if exact := exactQuantile(lat, 0.5); fld.Name == "p50" && !withinBound(got, exact) {
					t.Errorf("group by %v %v minute %d: p50 %v, exact %v", groupBy, fld.Labels, m, got, exact)
				}
			}
		}
	}
	f([]string{"endpoint"}, 2)
	f([]string{}, 1)
}

func TestRangeStep(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	f := func(agg string, interval time.Duration, maxDP int64, step string, wantStep time.Duration) {
		t.Helper()
		q := dataQuery("A", 0, minutes, map[string]any{"aggregation": agg, "measures": []string{"count"}, "step": step})
		q.Interval, q.MaxDataPoints = interval, maxDP
		fr := frameOf(t, queryData(t, d, q).Responses["A"])
		if got := fr.Meta.Custom.(map[string]any)["step"]; got != fmt.Sprint(wantStep.String()) && got != promDuration(wantStep) {
			t.Errorf("%s interval %v maxDataPoints %d step %q: step %v, want %v", agg, interval, maxDP, step, got, wantStep)
		}
		for i := 1; i < fr.Rows(); i++ {
			if dt := fr.Fields[0].At(i).(time.Time).Sub(fr.Fields[0].At(i - 1).(time.Time)); dt%wantStep != 0 {
				t.Errorf("rows %d apart", dt)
			}
		}
		if maxDP > 0 && int64(fr.Rows()) > maxDP {
			t.Errorf("%d rows, more than maxDataPoints %d", fr.Rows(), maxDP)
		}
	}
	f("endpoint_1m", 30*time.Second, 1000, "", time.Minute)  // at least the window
	f("endpoint_1m", 2*time.Minute, 1000, "", 2*time.Minute) // Grafana's interval
	f("endpoint_1m", 90*time.Second, 1000, "", 2*time.Minute)
	f("endpoint_1m", time.Minute, 5, "", 6*time.Minute) // 30m over 5 points
	f("endpoint_1m", time.Minute, 4, "", 8*time.Minute) // 7.5m rounded up to the window
	f("endpoint_1m", time.Minute, 1, "", 30*time.Minute)
	f("endpoint_1m", time.Minute, 0, "", time.Minute)        // no limit given
	f("endpoint_1m", time.Minute, 1000, "5m", 5*time.Minute) // the query's own step
	f("endpoint_1m", time.Minute, 5, "5m", 10*time.Minute)   // raised by its multiples
	f("region_5m", time.Minute, 1000, "", 5*time.Minute)
	f("region_5m", 6*time.Minute, 1000, "", 10*time.Minute)
}

// promDuration is a duration as the API writes it ("1m", "1h").
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func TestRangeNotices(t *testing.T) {
	// The stream is half way through the last minute: its window is open.
	k := newKwindow(t, t0+(minutes-1)*minute+30_000)
	d := newDS(t, "", k.URL)
	fr := frameOf(t, queryData(t, d, dataQuery("A", 20, minutes, map[string]any{"aggregation": "endpoint_1m",
		"measures": []string{"count"}})).Responses["A"])
	if len(fr.Meta.Notices) != 1 || fr.Meta.Notices[0].Severity != data.NoticeSeverityInfo ||
		!strings.HasPrefix(fr.Meta.Notices[0].Text, "last point still open: 4 of 40 points") {
		t.Errorf("notices %+v, want one info: last point still open, 4 of 40 points", fr.Meta.Notices)
	}

	k.b.set(func() { k.b.stale = true })
	resp := queryData(t, d,
		dataQuery("A", 20, minutes, map[string]any{"aggregation": "endpoint_1m", "stale": true}),
		dataQuery("B", 20, minutes, map[string]any{"aggregation": "endpoint_1m"}))
	fr = frameOf(t, resp.Responses["A"])
	var warned bool
	for _, n := range fr.Meta.Notices {
		warned = warned || n.Severity == data.NoticeSeverityWarning && strings.Contains(n.Text, "1 (7 records behind)")
	}
	if !warned {
		t.Errorf("stale read: notices %+v, want a warning naming partition 1", fr.Meta.Notices)
	}
	if b := resp.Responses["B"]; b.Status != backend.StatusBadGateway || !strings.Contains(b.Error.Error(), "503 unavailable") {
		t.Errorf("restoring without stale: %d %v, want 502 naming the 503", b.Status, b.Error)
	}
}
