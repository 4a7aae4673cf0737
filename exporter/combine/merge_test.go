package combine

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/engine"
)

// flatPart is what a test compares of a flushed part.
type flatPart struct {
	Agg                   int
	Group                 string
	Start, End, From      int64
	Last                  int64
	Late                  bool
	Count, Client, Server uint64
	InSketch              uint64 // the sketch's count, 0 without one
}

// flatten flushes c into parts sorted by aggregation, key and start.
func flatten(c *Combiner) []flatPart {
	var out []flatPart
	c.Flush(func(d *Delta) {
		for _, p := range d.Parts {
			f := flatPart{Agg: d.Agg, Group: d.Group, Start: p.Start, End: p.End, From: p.From, Last: p.Last, Late: p.Late,
				Count: p.Agg.Count, Client: p.Agg.ClientErrors, Server: p.Agg.ServerErrors}
			if p.Agg.Sketch != nil {
				f.InSketch = p.Agg.Sketch.Count()
			}
			out = append(out, f)
		}
	})
	slices.SortFunc(out, func(a, b flatPart) int {
		return cmp.Or(cmp.Compare(a.Agg, b.Agg), cmp.Compare(a.Group, b.Group), cmp.Compare(b2i(a.Late), b2i(b.Late)),
			cmp.Compare(a.Start, b.Start), cmp.Compare(a.From, b.From))
	})
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestAbsorb: events spread at random over 2 to 4 combiners, absorbed into the
// first, flush exactly the parts one combiner fed every event flushes, for every
// window kind: panes and sliding parts merged by start, local sessions merged
// within the gap (the events are sparse, so sessions of different combiners
// bridge one another), late parts merged.
func TestAbsorb(t *testing.T) {
	cfg := testConfig(t)
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		lanes := 2 + rng.IntN(3)
		one := New(cfg)
		split := make([]*Combiner, lanes)
		for i := range split {
			split[i] = New(cfg)
		}
		st := int64(engine.NoTime)
		for i := range 3000 {
			// Few keys, events up to 25 s apart per key (gap 20 s), some late.
			ts := base + int64(i)*300 + int64(rng.IntN(30_000))
			if rng.IntN(50) == 0 {
				ts -= 120_000
			}
			ev := newEvent(rng, ts, fmt.Sprintf("/e%d", rng.IntN(4)))
			st = max(st, ev.Time)
			want := one.ProcessAt(ev, st)
			if got := split[rng.IntN(lanes)].ProcessAt(ev, st); got != want {
				t.Fatalf("seed %d: event %d late mask %b, one combiner says %b", seed, i, got, want)
			}
			if i%700 == 699 { // an interval ends
				for _, o := range split[1:] {
					split[0].Absorb(o)
				}
				want, got := flatten(one), flatten(split[0])
				if !slices.Equal(got, want) {
					t.Fatalf("seed %d, %d lanes, event %d: %d parts absorbed, %d from one combiner; first difference %s",
						seed, lanes, i, len(got), len(want), firstDiff(got, want))
				}
				for _, o := range split {
					if n := len(flatten(o)); n != 0 {
						t.Fatalf("seed %d: a combiner holds %d parts after its interval", seed, n)
					}
				}
			}
		}
	}
}

func firstDiff(got, want []flatPart) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("got %+v, want %+v", got[i], want[i])
		}
	}
	return "in length"
}
