package query

import (
	"context"
	"math"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestMergedP99VersusAveragedP99 writes one hour of one key's 1-minute windows
// through store.Batch: 59 quiet minutes (1,000 requests at 10-30 ms) and one
// incident minute (1,000 requests, 20 % of them at 2-3 s). The hour's P99 read
// with a 1-hour step is the P99 of the hour's 60,000 requests within the
// sketch's bound; the mean of the 60 per-minute P99s, what a dashboard
// averaging a P99 gauge shows, is far off.
func TestMergedP99VersusAveragedP99(t *testing.T) {
	c := newConfig(t)
	l := newLocal(t, c, Limits{})
	st := store.NewMemory()
	defer st.Close()
	group := store.AppendGroup(nil, []byte("/checkout"), []byte("POST"), []byte("eu"))
	var b store.Batch
	var all []float64
	for m := int64(0); m < 60; m++ {
		a := aggregate.New(sketch.DefaultSchema, true)
		for i := 0; i < 1000; i++ {
			v := 0.010 + 0.020*float64(i)/1000 // 10-30 ms
			if m == 42 && i%5 == 0 {
				v = 2 + float64(i)/1000 // 2-3 s
			}
			a.Count++
			a.Values++
			a.Sum += v
			a.Min, a.Max = math.Min(a.Min, v), math.Max(a.Max, v)
			a.Sketch.Add(v)
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
	srcs := []Source{{Partition: 0, Store: st, StreamTime: t0 + 2*hour}}
	p99 := Measure{Kind: Quantile, Q: 0.99}
	ctx := context.Background()

	minutes, err := l.Range(ctx, srcs, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Measures: []Measure{p99}})
	if err != nil {
		t.Fatal(err)
	}
	averaged := 0.0
	for _, p := range minutes.Series[0].Points {
		averaged += p.Value(p99) / 60
	}
	hourly, err := l.Range(ctx, srcs, RangeQuery{Aggregation: "req_1m", From: t0, To: t0 + hour, Step: hour, Measures: []Measure{p99}})
	if err != nil {
		t.Fatal(err)
	}
	pt := hourly.Series[0].Points[0]
	merged, exact := pt.Value(p99), exactQuantile(all, 0.99)
	if pt.Windows != 60 || !pt.Complete {
		t.Errorf("hour point merged %d windows, complete %v; want 60, true", pt.Windows, pt.Complete)
	}
	if bound := sketch.RelativeError(sketch.DefaultSchema); math.Abs(merged-exact) > bound*exact {
		t.Errorf("merged P99 %.4f s, exact %.4f s: beyond the %.2f %% bound", merged, exact, 100*bound)
	}
	if math.Abs(averaged-exact) < 0.5*exact {
		t.Errorf("averaged per-minute P99s %.4f s, exact %.4f s: expected them to differ widely", averaged, exact)
	}
	t.Logf("1 h of 1-minute windows, one incident minute: exact P99 %.1f ms, merged-sketch P99 %.1f ms (%+.2f %%), mean of 60 per-minute P99s %.1f ms (%+.0f %%)",
		1000*exact, 1000*merged, 100*(merged-exact)/exact, 1000*averaged, 100*(averaged-exact)/exact)
}
