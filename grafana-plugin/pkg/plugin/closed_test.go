package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// openLast is a stream time half way through the last minute written: its
// windows are open, every earlier one closed.
const openLast = t0 + (minutes-1)*minute + 30_000

// TestClosedOnlyRange: the open minute is left out, the closed ones are
// exactly the events', and nothing says a point is open.
func TestClosedOnlyRange(t *testing.T) {
	k := newKwindow(t, openLast)
	d := newDS(t, "", k.URL)
	refs := reference(k.evs)
	model := map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}, "groupBy": []string{}}
	all := wide(frameOf(t, queryData(t, d, dataQuery("A", 20, minutes, model)).Responses["A"]))
	model["closedOnly"] = true
	fr := frameOf(t, queryData(t, d, dataQuery("A", 20, minutes, model)).Responses["A"])
	closed := wide(fr)
	if len(all.times) != 10 || len(closed.times) != 9 {
		t.Fatalf("%d points, closed only %d; want 10 and 9 (minutes 20-29, 29 open)", len(all.times), len(closed.times))
	}
	for i, at := range closed.times {
		m := (at - t0) / minute
		want := 0
		for _, e := range endpoints {
			for _, r := range regions {
				want += refs[fmt.Sprintf("%s|%s|%d", e, r, m)].count
			}
		}
		if m != 20+int64(i) || closed.values[0][i] != float64(want) {
			t.Errorf("point %d: minute %d count %v, want minute %d count %d", i, m, closed.values[0][i], 20+i, want)
		}
	}
	for _, n := range fr.Meta.Notices {
		if strings.Contains(n.Text, "open") {
			t.Errorf("closed only, yet a notice says %q", n.Text)
		}
	}
	// Per key: every series loses its open point, none is lost.
	model = map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}, "closedOnly": true}
	perKey := wide(frameOf(t, queryData(t, d, dataQuery("A", 20, minutes, model)).Responses["A"]))
	if len(perKey.values) != 4 || len(perKey.times) != 9 || perKey.times[8] != t0+28*minute {
		t.Errorf("per key: %d series over %d points (last %d), want 4 over minutes 20-28", len(perKey.values), len(perKey.times), perKey.times[len(perKey.times)-1])
	}
}

// TestClosedOnlyLatest: each key's latest closed window only.
func TestClosedOnlyLatest(t *testing.T) {
	k := newKwindow(t, openLast)
	d := newDS(t, "", k.URL)
	refs := reference(k.evs)
	fr := frameOf(t, queryData(t, d, dataQuery("A", minutes-3, minutes, map[string]any{"queryType": "latest",
		"aggregation": "endpoint_1m", "measures": []string{"count"}, "closedOnly": true})).Responses["A"])
	if fr.Rows() != 4 {
		t.Fatalf("%d rows, want 4: the closed minute 28 of each of the 4 keys", fr.Rows())
	}
	for i := range fr.Rows() {
		e, r := fr.Fields[0].At(i).(string), fr.Fields[1].At(i).(string)
		m := (fr.Fields[2].At(i).(time.Time).UnixMilli() - t0) / minute
		want := refs[fmt.Sprintf("%s|%s|%d", e, r, minutes-2)].count
		if m != minutes-2 || fr.Fields[4].At(i).(bool) || *fr.Fields[5].At(i).(*float64) != float64(want) {
			t.Errorf("row %d %s %s: minute %d partial %v count %v, want minute %d, closed, count %d",
				i, e, r, m, fr.Fields[4].At(i), *fr.Fields[5].At(i).(*float64), minutes-2, want)
		}
	}
	if len(fr.Meta.Notices) != 0 {
		t.Errorf("notices %+v, want none", fr.Meta.Notices)
	}
}

func TestClosedOnlyRefused(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	for _, typ := range []string{"topk", "anomalies"} {
		r := queryData(t, d, dataQuery("A", 0, minutes, map[string]any{"queryType": typ, "aggregation": "endpoint_1m", "closedOnly": true})).Responses["A"]
		if r.Status != backend.StatusBadRequest || r.Error == nil || !strings.Contains(r.Error.Error(), "closedOnly") {
			t.Errorf("%s with closedOnly: %d %v, want 400 naming closedOnly", typ, r.Status, r.Error)
		}
	}
}

// TestRunStreamClosedOnly: a closed-only live query streams a key's window
// when it closes, never its updates while open; merged, a point once none of
// its windows is open.
func TestRunStreamClosedOnly(t *testing.T) {
	k := newKwindow(t, openLast)
	d := newDS(t, "", k.URL)
	model := map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}}
	open, _ := liveChannel(t, d, model)
	model["closedOnly"] = true
	perKey, _ := liveChannel(t, d, model)
	model["groupBy"] = []string{}
	merged, _ := liveChannel(t, d, model)
	if perKey == "" || perKey == open || merged == "" || merged == perKey {
		t.Fatalf("channels: open %q, closed per key %q, closed merged %q", open, perKey, merged)
	}
	refs := reference(k.evs)
	update := func(e, r string, m int64, count int, partial bool) api.StreamEvent {
		a := aggregate.New(sketch.DefaultSchema, true)
		for range count {
			a.Add((&ev{latency: 0.1, status: 200}).event())
		}
		s := t0 + m*minute
		return api.StreamEvent{Update: &api.WindowUpdate{Aggregation: "endpoint_1m", Key: []string{e, r},
			Start: s, End: s + minute, Agg: a, Partial: partial, CommittedAt: s + minute}}
	}

	t.Run("per key", func(t *testing.T) {
		upstream, packets := runStream(t, k, d, perKey)
		upstream <- update("/a", "eu", 29, 7, true)   // open: not sent
		upstream <- update("/a", "eu", 28, 20, false) // its closing
		rows := nextRows(t, packets)
		if len(rows) != 1 || rows[0].labels != `{endpoint="/a", region="eu"}` || rows[0].time != t0+28*minute || rows[0].value != 20 {
			t.Errorf("rows %+v, want the closed minute 28 of /a eu, count 20", rows)
		}
	})
	t.Run("merged", func(t *testing.T) {
		upstream, packets := runStream(t, k, d, merged)
		upstream <- update("/a", "eu", 29, 7, true)  // open: no trigger
		upstream <- update("/b", "us", 29, 3, false) // minute 29 still holds open windows: nothing to send
		time.Sleep(300 * time.Millisecond)
		upstream <- update("/a", "eu", 28, 20, false)
		rows := nextRows(t, packets)
		want := 0
		for _, e := range endpoints {
			for _, r := range regions {
				want += refs[fmt.Sprintf("%s|%s|%d", e, r, minutes-2)].count
			}
		}
		if len(rows) != 1 || rows[0].labels != "{}" || rows[0].time != t0+28*minute || rows[0].value != float64(want) {
			t.Errorf("rows %+v, want one merged point at minute 28, count %d", rows, want)
		}
	})
}

// runStream runs RunStream on a channel until the test ends, and returns the
// API subscription's feed and the packets sent.
func runStream(t *testing.T, k *kwindow, d *Datasource, channel string) (chan api.StreamEvent, packetSender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	packets := make(packetSender, 16)
	done := make(chan error, 1)
	go func() {
		done <- d.RunStream(ctx, &backend.RunStreamRequest{Path: strings.TrimPrefix(channel, "ds/kw/")}, backend.NewStreamSender(packets))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunStream: %v", err)
		}
	})
	select {
	case up := <-k.b.subs:
		return up, packets
	case <-time.After(5 * time.Second):
		t.Fatal("RunStream did not subscribe to the API's stream")
	}
	return nil, nil
}

// wideValues is a wide frame's times (unix ms) and its number fields' values
// (NaN for null).
type wideValues struct {
	times  []int64
	values [][]float64
}

func wide(f *data.Frame) wideValues {
	var w wideValues
	for i := range f.Rows() {
		w.times = append(w.times, f.Fields[0].At(i).(time.Time).UnixMilli())
	}
	for _, fld := range f.Fields[1:] {
		vs := make([]float64, fld.Len())
		for i := range vs {
			vs[i] = math.NaN()
			if p := fld.At(i).(*float64); p != nil {
				vs[i] = *p
			}
		}
		w.values = append(w.values, vs)
	}
	return w
}

type liveRow struct {
	labels string
	time   int64
	value  float64
}

// nextRows reads the next packet's rows: labels, time and first measure.
func nextRows(t *testing.T, packets packetSender) []liveRow {
	t.Helper()
	var pk json.RawMessage
	select {
	case pk = <-packets:
	case <-time.After(2 * time.Second):
		t.Fatal("no packet within 2 s")
	}
	var got struct {
		Data struct {
			Values [][]any `json:"values"`
		} `json:"data"`
	}
	if err := json.Unmarshal(pk, &got); err != nil {
		t.Fatal(err)
	}
	v := got.Data.Values
	var rows []liveRow
	for i := range v[0] {
		rows = append(rows, liveRow{v[0][i].(string), int64(v[1][i].(float64)), v[2][i].(float64)})
	}
	return rows
}
