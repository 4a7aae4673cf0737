package api

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestQueryRange reads ten-minute steps of a filtered, regrouped aggregation
// and checks every point against the raw events: counts and error counts
// exact, rates and ratios from them, the P99 within the sketch's bound.
func TestQueryRange(t *testing.T) {
	evs := randomEvents(1, 6000, t0, hour)
	w := newWorld(t, evs, 2, t0+2*hour)
	s := newServer(t, newBackend(t, w, query.Limits{}), Options{})
	c := newClient(t, s)
	step := 10 * time.Minute
	res, err := c.QueryRange(context.Background(), client.RangeRequest{
		Aggregation: "req_1m", Match: []client.Matcher{client.Re("region", "eu-.*")}, GroupBy: []string{"endpoint", "region"},
		Measures: []string{"count", "errors", "error_ratio", "rate", "p99"},
		From:     time.UnixMilli(t0), To: time.UnixMilli(t0 + hour), Step: step,
	})
	if err != nil {
		t.Fatal(err)
	}

	// The reference: the events of each endpoint|region and step, and the
	// distinct (key, minute) windows they fall in.
	type cell struct {
		p       refPoint
		windows map[string]bool
	}
	ref := map[string]map[int64]*cell{}
	for i := range evs {
		e := &evs[i]
		if !strings.HasPrefix(e.dims[2], "eu-") {
			continue
		}
		k := e.dims[0] + "|" + e.dims[2]
		ws := e.t - e.t%minute
		st := t0 + (ws-t0)/(10*minute)*(10*minute)
		if ref[k] == nil {
			ref[k] = map[int64]*cell{}
		}
		if ref[k][st] == nil {
			ref[k][st] = &cell{windows: map[string]bool{}}
		}
		ref[k][st].p.add(e)
		ref[k][st].windows[e.dims[1]+"@"+time.UnixMilli(ws).String()] = true
	}

	if res.Step != client.Duration(step) || !res.MergedWindows || !res.Complete || len(res.Stale) != 0 ||
		res.StreamTime == nil || *res.StreamTime != client.Timestamp(t0+2*hour) || len(res.Partitions) != 2 || len(res.Instances) != 1 {
		t.Errorf("answer: step %v, merged_windows %v, complete %v, stale %v, stream_time %v, partitions %v, instances %v",
			res.Step, res.MergedWindows, res.Complete, res.Stale, res.StreamTime, res.Partitions, res.Instances)
	}
	if len(res.Series) != len(ref) {
		t.Fatalf("%d series, want %d", len(res.Series), len(ref))
	}
	points := 0
	for _, ser := range res.Series {
		k := labelKey(ser.Labels, "endpoint", "region")
		if len(ser.Labels) != 2 || ref[k] == nil {
			t.Fatalf("series %v: not in the reference", ser.Labels)
		}
		if len(ser.Points) != len(ref[k]) {
			t.Errorf("%s: %d points, want %d", k, len(ser.Points), len(ref[k]))
		}
		for _, pt := range ser.Points {
			points++
			cl := ref[k][int64(pt.Start)]
			if cl == nil {
				t.Errorf("%s at %v: a point without events", k, pt.Start)
				continue
			}
			want := cl.p
			v := pt.Values
			if v["count"] != client.Value(want.count) || v["errors"] != client.Value(want.cerr+want.serr) {
				t.Errorf("%s at %v: count %v errors %v, want %d %d", k, pt.Start, v["count"], v["errors"], want.count, want.cerr+want.serr)
			}
			if r := float64(want.serr) / float64(want.count); math.Abs(float64(v["error_ratio"])-r) > 1e-12 {
				t.Errorf("%s at %v: error_ratio %v, want %v", k, pt.Start, v["error_ratio"], r)
			}
			if r := float64(want.count) / 600; math.Abs(float64(v["rate"])-r) > 1e-12 {
				t.Errorf("%s at %v: rate %v, want %v", k, pt.Start, v["rate"], r)
			}
			if exact := exactQuantile(want.vals, 0.99); !withinBound(float64(v["p99"]), exact) {
				t.Errorf("%s at %v: p99 %v, exact %v: beyond the sketch's bound", k, pt.Start, v["p99"], exact)
			}
			if pt.Windows != len(cl.windows) || pt.Open != 0 || !pt.Complete || pt.End-pt.Start != client.Timestamp(10*minute) {
				t.Errorf("%s at %v: windows %d open %d complete %v end %v, want %d 0 true", k, pt.Start, pt.Windows, pt.Open, pt.Complete, pt.End, len(cl.windows))
			}
		}
	}
	if points < 30 {
		t.Fatalf("only %d points: the test checks little", points)
	}
}

// TestQueryRangeDefaults: without group_by one series per key; with an empty
// group_by one series of everything; without from, to and step the hour
// before now in the window's own step.
func TestQueryRangeDefaults(t *testing.T) {
	evs := randomEvents(2, 500, t0, hour)
	s := newServer(t, newBackend(t, newWorld(t, evs, 2, t0+2*hour), query.Limits{}), Options{})
	c := newClient(t, s)
	ctx := context.Background()

	perKey, err := c.QueryRange(ctx, client.RangeRequest{Aggregation: "req_1m"})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for i := range evs {
		keys[strings.Join(evs[i].dims[:], "|")] = true
	}
	if len(perKey.Series) != len(keys) || len(perKey.GroupBy) != 3 || perKey.Step != client.Duration(time.Minute) ||
		perKey.From != client.Timestamp(t0) || perKey.To != client.Timestamp(t0+hour) || perKey.MergedWindows ||
		len(perKey.Measures) != 1 || perKey.Measures[0] != "count" {
		t.Errorf("defaults: %d series (want %d), group_by %v, step %v, [%v, %v), merged %v, measures %v",
			len(perKey.Series), len(keys), perKey.GroupBy, perKey.Step, perKey.From, perKey.To, perKey.MergedWindows, perKey.Measures)
	}

	all, err := c.QueryRange(ctx, client.RangeRequest{Aggregation: "req_1m", GroupBy: []string{}, Step: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Series) != 1 || len(all.Series[0].Labels) != 0 || len(all.Series[0].Points) != 1 {
		t.Fatalf("group_by= : %+v", all.Series)
	}
	if got := all.Series[0].Points[0].Values["count"]; got != client.Value(len(evs)) {
		t.Errorf("group_by= over the hour: count %v, want %d", got, len(evs))
	}
}

// TestQueryRangeOpen: windows the stream time has not closed are counted as
// open, their points are not complete, and neither is the answer.
func TestQueryRangeOpen(t *testing.T) {
	evs := randomEvents(3, 2000, t0, 30*minute)
	st := t0 + 29*minute + 5_000 // [28m, 29m) closes at 29m10s: still open
	s := newServer(t, newBackend(t, newWorld(t, evs, 1, st), query.Limits{}), Options{})
	res, err := newClient(t, s).QueryRange(context.Background(), client.RangeRequest{Aggregation: "counts_1m",
		From: time.UnixMilli(t0), To: time.UnixMilli(t0 + 30*minute)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Complete {
		t.Error("answer complete with open windows")
	}
	for _, ser := range res.Series {
		for _, pt := range ser.Points {
			open := int64(pt.Start) >= t0+28*minute
			if (pt.Open > 0) != open || pt.Complete == open {
				t.Errorf("%v at %v: open %d, complete %v; want open %v", ser.Labels, pt.Start.Time(), pt.Open, pt.Complete, open)
			}
		}
	}
}

// TestMergedP99VersusAveragedP99 writes one hour of one key's 1-minute windows:
// 59 quiet minutes (1,000 requests at 10-30 ms) and one incident minute (20 %
// at 2-3 s). A 1-hour step's P99 is the hour's P99 within the sketch's bound,
// and the API says it merged 60 windows; the mean of the 60 per-minute P99s
// that a 1-minute step gives is far off.
func TestMergedP99VersusAveragedP99(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	group := store.AppendGroup(nil, []byte("/checkout"), []byte("POST"), []byte("eu-west"))
	var b store.Batch
	var all []float64
	for m := int64(0); m < 60; m++ {
		a := aggregate.New(sketch.DefaultSchema, true)
		for i := range 1000 {
			v := 0.010 + 0.020*float64(i)/1000
			if m == 42 && i%5 == 0 {
				v = 2 + float64(i)/1000
			}
			e := ev{t: t0 + m*minute, status: 200, latency: v}
			a.Add(e.event())
			all = append(all, v)
		}
		val, err := aggregate.Value{End: t0 + (m+1)*minute, Last: t0 + (m+1)*minute - 1, Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Put(store.Key{Agg: "req_1m", Group: group, Start: t0 + m*minute}, val)
	}
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	w := &world{cfg: newConfig(t), srcs: []query.Source{{Partition: 0, Store: st, StreamTime: t0 + 2*hour}}}
	c := newClient(t, newServer(t, newBackend(t, w, query.Limits{}), Options{}))
	ctx := context.Background()
	req := client.RangeRequest{Aggregation: "req_1m", Measures: []string{"p99"}, From: time.UnixMilli(t0), To: time.UnixMilli(t0 + hour)}

	minutes, err := c.QueryRange(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	averaged := 0.0
	for _, p := range minutes.Series[0].Points {
		averaged += float64(p.Values["p99"]) / 60
	}
	req.Step = time.Hour
	hourly, err := c.QueryRange(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	pt := hourly.Series[0].Points[0]
	merged, exact := float64(pt.Values["p99"]), exactQuantile(all, 0.99)
	if !hourly.MergedWindows || minutes.MergedWindows || pt.Windows != 60 || !pt.Complete {
		t.Errorf("merged_windows %v (1m: %v), point merged %d windows, complete %v; want true (false), 60, true",
			hourly.MergedWindows, minutes.MergedWindows, pt.Windows, pt.Complete)
	}
	if !withinBound(merged, exact) {
		t.Errorf("1h-step P99 %.4f s, exact %.4f s: beyond the sketch's bound", merged, exact)
	}
	if math.Abs(averaged-exact) < 0.5*exact {
		t.Errorf("mean of per-minute P99s %.4f s, exact %.4f s: expected them to differ widely", averaged, exact)
	}
}
