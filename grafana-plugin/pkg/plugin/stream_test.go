package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/sketch"
)

type packetSender chan json.RawMessage

func (p packetSender) Send(pk *backend.StreamPacket) error {
	p <- pk.Data
	return nil
}

// liveChannel runs a live range query and returns its frame's channel.
func liveChannel(t *testing.T, d *Datasource, model map[string]any) (string, *backend.DataResponse) {
	t.Helper()
	model["live"] = true
	r := queryData(t, d, dataQuery("A", minutes-5, minutes, model)).Responses["A"]
	fr := frameOf(t, r)
	return fr.Meta.Channel, &r
}

func TestLiveChannel(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	filters := []map[string]string{{"dim": "region", "op": "=", "value": "eu"}, {"dim": "endpoint", "op": "=~", "value": "/a.*"}}
	ch, r := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count", "p99"}, "filters": filters})
	if !strings.HasPrefix(ch, "ds/kw/stream/") {
		t.Fatalf("channel %q", ch)
	}
	fr := r.Frames[0]
	if fr.Fields[0].Name != "labels" || fr.Fields[1].Name != "time" || fr.Fields[2].Name != "count" || fr.Fields[3].Name != "p99" {
		t.Errorf("live layout: fields %v %v %v %v", fr.Fields[0].Name, fr.Fields[1].Name, fr.Fields[2].Name, fr.Fields[3].Name)
	}
	if fr.Rows() != 5 || fr.Fields[0].At(0) != `{endpoint="/a", region="eu"}` || *fr.Fields[2].At(0).(*float64) != 20 {
		t.Errorf("live rows: %d, first %v %v", fr.Rows(), fr.Fields[0].At(0), *fr.Fields[2].At(0).(*float64))
	}
	// The same selection, filters in another order and another legend: the same channel.
	same, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count", "p99"},
		"filters": []map[string]string{filters[1], filters[0]}, "legendFormat": "{{endpoint}}"})
	if same != ch {
		t.Errorf("identical selections: channels %q and %q", ch, same)
	}
	other, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count"}, "filters": filters})
	if other == ch {
		t.Errorf("other measures, same channel %q", ch)
	}
	// Points of several windows cannot follow window updates.
	ch5, r5 := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "step": "5m"})
	if ch5 != "" || !strings.HasPrefix(r5.Frames[0].Meta.Notices[0].Text, "not live: the step 5m is longer") || r5.Frames[0].Fields[0].Name != "time" {
		t.Errorf("step 5m: channel %q notices %+v", ch5, r5.Frames[0].Meta.Notices)
	}
	// Grouping by every dimension is one series per key: the updates as they are.
	perKey, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m"})
	if all, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "groupBy": []string{"region", "endpoint"}}); all != perKey {
		t.Errorf("group by every dimension: channel %q, want the per-key %q", all, perKey)
	}
	// Merging keys is another channel, which asks for the merged points again.
	merged, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "groupBy": []string{}})
	byEndpoint, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "groupBy": []string{"endpoint"}})
	if merged == "" || byEndpoint == "" || merged == perKey || byEndpoint == perKey || merged == byEndpoint {
		t.Errorf("channels: per key %q, merged %q, by endpoint %q", perKey, merged, byEndpoint)
	}
	// Alerting never gets the live layout.
	q := dataQuery("A", 0, 5, map[string]any{"aggregation": "endpoint_1m", "live": true})
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}, Headers: map[string]string{"FromAlert": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if fr := resp.Responses["A"].Frames[0]; fr.Meta.Channel != "" || fr.Meta.Type != "timeseries-wide" {
		t.Errorf("alerting: channel %q type %q", fr.Meta.Channel, fr.Meta.Type)
	}
}

func TestRunStream(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	ch, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count", "p99"}})
	path := strings.TrimPrefix(ch, "ds/kw/")

	sub, _ := d.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: path})
	if sub.Status != backend.SubscribeStreamStatusOK {
		t.Errorf("subscribe: %v", sub.Status)
	}
	for _, p := range []string{"stream/!!", "other", "stream/" + "e30"} {
		if sub, _ := d.SubscribeStream(context.Background(), &backend.SubscribeStreamRequest{Path: p}); sub.Status != backend.SubscribeStreamStatusNotFound {
			t.Errorf("subscribe %q: %v", p, sub.Status)
		}
	}
	if pub, _ := d.PublishStream(context.Background(), &backend.PublishStreamRequest{Path: path}); pub.Status != backend.PublishStreamStatusPermissionDenied {
		t.Errorf("publish: %v", pub.Status)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	packets := make(packetSender, 16)
	done := make(chan error, 1)
	go func() {
		done <- d.RunStream(ctx, &backend.RunStreamRequest{Path: path}, backend.NewStreamSender(packets))
	}()
	var upstream chan api.StreamEvent
	select {
	case upstream = <-k.b.subs:
	case <-time.After(5 * time.Second):
		t.Fatal("RunStream did not subscribe to the API's stream")
	}
	a := aggregate.New(sketch.DefaultSchema, true)
	for _, e := range []ev{{latency: 0.1}, {latency: 0.2}, {latency: 0.3}} {
		a.Add(e.event())
	}
	start := t0 + minutes*minute
	upstream <- api.StreamEvent{Update: &api.WindowUpdate{Aggregation: "endpoint_1m", Key: []string{"/a", "eu"},
		Start: start, End: start + minute, Last: start + 1000, Agg: a, Partial: true, CommittedAt: start + 1000}}
	var pk json.RawMessage
	select {
	case pk = <-packets:
	case <-time.After(2 * time.Second):
		t.Fatal("no frame within 2 s of the update")
	}
	var got struct {
		Schema json.RawMessage `json:"schema"`
		Data   struct {
			Values []json.RawMessage `json:"values"`
		} `json:"data"`
	}
	if err := json.Unmarshal(pk, &got); err != nil {
		t.Fatal(err)
	}
	if got.Schema != nil || len(got.Data.Values) != 4 {
		t.Fatalf("packet %s: want rows only, 4 columns", pk)
	}
	want := []string{`["{endpoint=\"/a\", region=\"eu\"}"]`, "[1795343400000]", "[3]"}
	for i, w := range want {
		if string(got.Data.Values[i]) != w {
			t.Errorf("column %d: %s, want %s", i, got.Data.Values[i], w)
		}
	}
	var p99 []float64
	if err := json.Unmarshal(got.Data.Values[3], &p99); err != nil || !withinBound(p99[0], 0.3) {
		t.Errorf("p99 %s, want 0.3 within the sketch's bound", got.Data.Values[3])
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunStream after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("RunStream still running 2 s after its context ended")
	}
	// The upstream subscription ends with it: the API's handler cancels the
	// Backend's subscription once the connection is gone.
	select {
	case <-k.b.subCtx(0).Done():
	case <-time.After(5 * time.Second):
		t.Error("the API's stream still open 5 s after RunStream returned")
	}
}

func TestRunStreamDisposed(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	path := streamPath(&Query{Aggregation: "endpoint_1m", Measures: []string{"count"}}, false, time.Minute)
	done := make(chan error, 1)
	go func() {
		done <- d.RunStream(context.Background(), &backend.RunStreamRequest{Path: path}, backend.NewStreamSender(make(packetSender, 16)))
	}()
	<-k.b.subs
	d.Dispose()
	select {
	case err := <-done:
		if !errors.Is(err, errDisposed) {
			t.Errorf("RunStream after Dispose: %v, want errDisposed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("RunStream still running after Dispose")
	}
}

// TestRunStreamMerged: a live query that merges keys gets, per batch of
// updates, the merged points of the windows they touched, asked of the API.
func TestRunStreamMerged(t *testing.T) {
	k := newKwindow(t, closedAll)
	d := newDS(t, "", k.URL)
	ch, _ := liveChannel(t, d, map[string]any{"aggregation": "endpoint_1m", "measures": []string{"count", "p99"},
		"groupBy": []string{}, "filters": []map[string]string{{"dim": "region", "value": "eu"}}})
	path := strings.TrimPrefix(ch, "ds/kw/")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	packets := make(packetSender, 16)
	done := make(chan error, 1)
	go func() {
		done <- d.RunStream(ctx, &backend.RunStreamRequest{Path: path}, backend.NewStreamSender(packets))
	}()
	upstream := <-k.b.subs
	// The update is only a trigger: what is sent is what the stores hold for
	// minute 29 of both endpoints in eu.
	a := aggregate.New(sketch.DefaultSchema, true)
	start := t0 + (minutes-1)*minute
	upstream <- api.StreamEvent{Update: &api.WindowUpdate{Aggregation: "endpoint_1m", Key: []string{"/b", "eu"},
		Start: start, End: start + minute, Agg: a}}
	var pk json.RawMessage
	select {
	case pk = <-packets:
	case <-time.After(2 * time.Second):
		t.Fatal("no frame within 2 s of the update")
	}
	var got struct {
		Data struct {
			Values [][]any `json:"values"`
		} `json:"data"`
	}
	if err := json.Unmarshal(pk, &got); err != nil {
		t.Fatal(err)
	}
	refs := reference(k.evs)
	count, lat := 0, []float64(nil)
	for _, e := range endpoints {
		x := refs[fmt.Sprintf("%s|eu|%d", e, minutes-1)]
		count += x.count
		lat = append(lat, x.lat...)
	}
	v := got.Data.Values
	if len(v) != 4 || len(v[0]) != 1 || v[0][0] != "{}" || v[1][0] != float64(start) || v[2][0] != float64(count) {
		t.Fatalf("packet %s: want one row {} at minute 29 with count %d", pk, count)
	}
	if p99 := v[3][0].(float64); !withinBound(p99, exactQuantile(lat, 0.99)) {
		t.Errorf("merged p99 %v, exact %v", p99, exactQuantile(lat, 0.99))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunStream: %v", err)
	}
}
