package engine

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
)

// TestFlushEncodings encodes every change of every Flush, as a stream task does
// at each commit, and checks the bytes against the encoding of a copy made
// without the engine's encoding cache: for the three default aggregations fed
// events (one engine), and for windows and totals fed parts (another, as stage 2).
func TestFlushEncodings(t *testing.T) {
	check := func(f *Flush) int {
		t.Helper()
		n := 0
		for _, c := range f.Changes {
			if c.Value.Agg == nil {
				continue
			}
			got, err := c.Value.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := aggregate.Value{End: c.Value.End, Last: c.Value.Last, Agg: c.Value.Agg.Clone()}.AppendBinary(nil)
			if !bytes.Equal(got, want) {
				t.Fatalf("change %+v: encoding\n%x\nwant\n%x", c, got, want)
			}
			var v aggregate.Value
			if err := v.UnmarshalBinary(got); err != nil || v.Agg.Count != c.Value.Agg.Count {
				t.Fatalf("change %+v decodes to %+v, %v", c, v.Agg, err)
			}
			n++
		}
		return n
	}
	rng := rand.New(rand.NewPCG(3, 4))
	endpoints := []string{"/a", "/b", "/c", "/d", "/e"}
	e := New(config.Default())
	stage2 := New(config.Default())
	changes := 0
	for i := 0; i < 30000; i++ {
		ev := req(int64(i)*10, endpoints[rng.IntN(len(endpoints))], []int{200, 404, 503}[rng.IntN(3)],
			20*math.Exp(rng.NormFloat64()*[]float64{0.3, 1, 3}[rng.IntN(3)]))
		e.Process(ev)
		a := aggregate.New(6, true)
		a.Add(ev)
		start := ev.Time - ev.Time%minute
		stage2.AdvanceTo(ev.Time)
		stage2.Merge(0, group(string(ev.Dims[0])), &Part{Start: start, End: start + minute, From: math.MinInt64, Last: ev.Time, Agg: a})
		if rng.IntN(200) == 0 {
			changes += check(e.Flush()) + check(stage2.Flush())
		}
	}
	if changes < 1000 {
		t.Fatalf("%d changes checked, want more", changes)
	}
}
