package combine

import (
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/store"
)

// The brute-force reference: window contents computed from the raw events with
// nothing of package window, engine or combine, by the definitions alone.

// refEvent is an event and the stream time of its stage-1 task when it processed
// it (the event included): what decides its lateness.
type refEvent struct {
	ev *event.Event
	s  int64
}

// refAgg is what a window or a running total must hold.
type refAgg struct {
	count, client, server, values uint64
	sum, min, max                 float64
	last                          int64
	vals                          []float64
}

func newRefAgg() *refAgg {
	return &refAgg{min: math.Inf(1), max: math.Inf(-1), last: math.MinInt64}
}

func (r *refAgg) add(ev *event.Event) {
	r.count++
	switch {
	case ev.Status >= 500:
		r.server++
	case ev.Status >= 400:
		r.client++
	}
	r.last = max(r.last, ev.Time)
	if ev.HasValue {
		r.values++
		r.sum += ev.Value
		r.min, r.max = min(r.min, ev.Value), max(r.max, ev.Value)
		r.vals = append(r.vals, ev.Value)
	}
}

// resultKey names one window of one key of one aggregation.
type resultKey struct {
	agg        string
	group      string
	start, end int64
}

// refGroup encodes the group key of ev for aggregation a by dimension names.
func refGroup(c *config.Config, a *config.Aggregation, ev *event.Event) string {
	var vals [][]byte
	for _, g := range a.GroupBy {
		for i, d := range c.Events.Dimensions {
			if d.Name == g {
				vals = append(vals, ev.Dims[i])
			}
		}
	}
	return string(store.AppendGroup(nil, vals...))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// refLate reports whether an event at t, processed at stream time s, is late for
// aggregation a by the lateness rules, with the earliest window start it still
// reaches (tumbling, hopping).
func refLate(a *config.Aggregation, t, s int64) bool {
	grace := a.Grace.Millis()
	w := a.Window
	switch w.Type {
	case "tumbling":
		size := w.Size.Millis()
		return floorDiv(t, size)*size+size+grace <= s
	case "hopping":
		size, adv := w.Size.Millis(), w.Advance.Millis()
		first := (floorDiv(t-size, adv) + 1) * adv // the earliest window of t closes first
		return first+size+grace <= s
	case "session":
		return t+grace <= s
	case "sliding":
		// Its left window [t-size, t] closed: stricter than Kafka Streams (and
		// window.Windows.Add), where only the right window [t+1, t+size+1] counts.
		return t+grace <= s
	}
	panic(w.Type)
}

// reference computes every window and running total of every aggregation from the
// events, late events left out of the windows they are late for.
func reference(t *testing.T, c *config.Config, events []refEvent) (windows map[resultKey]*refAgg, totals map[[2]string]*refAgg, late []uint64) {
	windows, totals = map[resultKey]*refAgg{}, map[[2]string]*refAgg{}
	late = make([]uint64, len(c.Aggregations))
	at := func(k resultKey) *refAgg {
		r := windows[k]
		if r == nil {
			r = newRefAgg()
			windows[k] = r
		}
		return r
	}
	for ai := range c.Aggregations {
		a := &c.Aggregations[ai]
		grace := a.Grace.Millis()
		byKey := map[string][]refEvent{}
		for _, e := range events {
			g := refGroup(c, a, e.ev)
			tk := [2]string{a.Name, g}
			if totals[tk] == nil {
				totals[tk] = newRefAgg()
			}
			totals[tk].add(e.ev)
			if refLate(a, e.ev.Time, e.s) {
				late[ai]++
			}
			byKey[g] = append(byKey[g], e)
		}
		for g, evs := range byKey {
			switch a.Window.Type {
			case "tumbling", "hopping":
				size, adv := a.Window.Size.Millis(), a.Window.Advance.Millis()
				if a.Window.Type == "tumbling" {
					adv = size
				}
				for _, e := range evs {
					tt := e.ev.Time
					for k := floorDiv(tt-size, adv) + 1; k*adv <= tt; k++ {
						if k*adv+size+grace > e.s { // the window was open at stage 1
							at(resultKey{a.Name, g, k * adv, k*adv + size}).add(e.ev)
						}
					}
				}
			case "session":
				gap := a.Window.Gap.Millis()
				var kept []refEvent
				for _, e := range evs {
					if !refLate(a, e.ev.Time, e.s) {
						kept = append(kept, e)
					}
				}
				sort.SliceStable(kept, func(i, j int) bool { return kept[i].ev.Time < kept[j].ev.Time })
				for i := 0; i < len(kept); {
					j := i + 1
					for j < len(kept) && kept[j].ev.Time-kept[j-1].ev.Time <= gap {
						j++
					}
					r := at(resultKey{a.Name, g, kept[i].ev.Time, kept[j-1].ev.Time + 1})
					for _, e := range kept[i:j] {
						r.add(e.ev)
					}
					i = j
				}
			case "sliding":
				size := a.Window.Size.Millis()
				var times []int64
				var kept []refEvent
				for _, e := range evs {
					// A late event reaches no window, even one still open at stage 1.
					if refLate(a, e.ev.Time, e.s) {
						continue
					}
					kept = append(kept, e)
					times = append(times, e.ev.Time)
				}
				slices.Sort(times)
				sort.SliceStable(kept, func(i, j int) bool { return kept[i].ev.Time < kept[j].ev.Time })
				// Kafka Streams' sliding windows [start, start+size], inclusive: each
				// record's left window, and its right window when a record falls in it.
				starts := map[int64]bool{}
				for _, tt := range times {
					starts[tt-size] = true
					if j, _ := slices.BinarySearch(times, tt+1); j < len(times) && times[j] <= tt+1+size {
						starts[tt+1] = true
					}
				}
				for st := range starts {
					i, _ := slices.BinarySearch(times, st)
					for ; i < len(kept) && kept[i].ev.Time <= st+size; i++ {
						at(resultKey{a.Name, g, st, st + size + 1}).add(kept[i].ev)
					}
				}
			}
		}
	}
	return windows, totals, late
}
