package query

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// BenchmarkHoppingRange reads an hour of hop_5m (5m windows every minute) of
// 1,000 keys, merged into one series by minute, from one store of each kind:
//
//   - stored: every window stored whole, open ones too (stage 2 before panes);
//     the scans of the pane variants find nothing.
//   - panes: the closed windows stored whole and the open ones as panes, each
//     minute's pane in two variants (stage 2 with panes).
//
// Each window or pane holds 50 latencies.
func BenchmarkHoppingRange(b *testing.B) {
	l := newLocal(b, parseConfig(b, hopConfig), Limits{})
	const keys, size, grace = 1000, 5 * minute, 10_000
	stream := t0 + hour
	for _, layout := range []string{"stored", "panes"} {
		r := rand.New(rand.NewPCG(16, 17))
		value := func(end int64) []byte {
			a := aggregate.New(sketch.DefaultSchema, true)
			for range 50 {
				a.Add((&hopEvent{t: end - 1, status: 200, value: float64(1 + r.IntN(2000)), hasValue: true}).event())
			}
			v, _ := aggregate.Value{End: end, Last: end - 1, Agg: a}.AppendBinary(nil)
			return v
		}
		var batch store.Batch
		for k := range keys {
			group := store.AppendGroup(nil, []byte(fmt.Sprintf("/api/v1/endpoint/%04d", k)), []byte("GET"))
			for s := t0; s <= stream; s += minute {
				open := s+size+grace > stream
				if layout == "stored" || !open {
					batch.Put(store.Key{Agg: "hop_5m", Group: group, Start: s}, value(s+size))
				}
				if layout == "panes" && s+minute+size+grace > stream { // a pane of an open window
					for v := range 2 {
						batch.Put(store.Key{Agg: store.PaneAgg("hop_5m", v), Group: group, Start: s}, value(s+minute))
					}
				}
			}
		}
		for _, kind := range []string{"memory", "rocks"} {
			var st store.Store = store.NewMemory()
			if kind == "rocks" {
				var err error
				if st, err = store.OpenRocks(b.TempDir(), store.RocksOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			if err := st.Write(&batch); err != nil {
				b.Fatal(err)
			}
			srcs := []Source{{Store: st, StreamTime: stream}}
			q := RangeQuery{Aggregation: "hop_5m", From: stream - hour, To: stream + 1, Measures: []Measure{{Kind: Quantile, Q: 0.99}}}
			b.Run(layout+"/"+kind, func(b *testing.B) {
				for b.Loop() {
					if _, err := l.Range(context.Background(), srcs, q); err != nil {
						b.Fatal(err)
					}
				}
			})
			st.Close()
		}
	}
}
