package combine

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
)

// TestPlaceMatchesPane: the part an event goes to, with place's memo of the
// last Spec.Pane answer, is the one Spec.Pane gives, for times and stream times
// in any order (a lane's combiner takes the events of several partitions, each
// with its own stream time), near window boundaries and closes.
func TestPlaceMatchesPane(t *testing.T) {
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: tum, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s}
  - {name: hop, group_by: [endpoint], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
  - {name: odd, group_by: [endpoint], window: {type: hopping, size: 10s, advance: 4s}, grace: 0s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	cb := New(c)
	for _, a := range cb.aggs {
		k := &key{}
		s := a.spec
		st := int64(1_000_000)
		for i := range 200_000 {
			st += rng.Int64N(300)
			at := st
			if i%3 == 0 {
				at -= rng.Int64N(s.Size + s.Grace + 20_000) // behind: another partition
			}
			ts := at - rng.Int64N(s.Size+s.Grace+5_000) + rng.Int64N(2_000)
			p, late := a.place(k, ts, at)
			pane, from, wantLate, ok := s.Pane(ts, at)
			if !ok {
				if p != k.late || !late {
					t.Fatalf("%s: t %d at %d: part %+v late %v, want the late part", a.name, ts, at, p, late)
				}
				continue
			}
			if a.spec.Kind.String() == "tumbling" {
				from = math.MinInt64
			}
			if p.Start != pane.Start || p.End != pane.End || p.From != from || late != wantLate {
				t.Fatalf("%s: t %d at %d: part [%d,%d) from %d late %v, want [%d,%d) from %d late %v",
					a.name, ts, at, p.Start, p.End, p.From, late, pane.Start, pane.End, from, wantLate)
			}
			if len(k.parts) > 64 {
				k.parts = k.parts[:0]
			}
		}
	}
}
