// Package windowref is a brute-force reference of kwindow's results, for tests:
// what every window and every running total of a configuration must hold, computed
// from the raw events by the definitions alone (window kinds, grace, and the
// lateness rules of package combine: each event judged against the stream time of
// its own input partition when it was processed).
//
// It must stay independent of the code it checks: it imports nothing of package
// window, engine or combine, and assigns windows by enumeration, not by formula
// shared with them. Package combine's pipeline tests and package stream's tests
// against a real broker both compare with it.
package windowref

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/store"
)

// Event is an event and the stream time of its stage-1 task (its input
// partition) when it processed it, the event included: the largest event time of
// the partition so far. That stream time decides its lateness.
type Event struct {
	*event.Event
	StreamTime int64
}

// Agg is what a window or a running total must hold.
type Agg struct {
	Count, ClientErrors, ServerErrors uint64
	Values                            uint64  // events with a value
	Sum, Min, Max                     float64 // of the values; Min +Inf and Max -Inf without any
	Last                              int64   // the latest event time
	Vals                              []float64
}

func newAgg() *Agg {
	return &Agg{Min: math.Inf(1), Max: math.Inf(-1), Last: math.MinInt64}
}

// Add counts ev.
func (r *Agg) Add(ev *event.Event) {
	r.Count++
	switch {
	case ev.Status >= 500:
		r.ServerErrors++
	case ev.Status >= 400:
		r.ClientErrors++
	}
	r.Last = max(r.Last, ev.Time)
	if ev.HasValue {
		r.Values++
		r.Sum += ev.Value
		r.Min, r.Max = min(r.Min, ev.Value), max(r.Max, ev.Value)
		r.Vals = append(r.Vals, ev.Value)
	}
}

// Quantile is the exact q-quantile of the values: the value of rank ceil(q*n),
// clamped to [1, n]. NaN without values.
func (r *Agg) Quantile(q float64) float64 {
	if len(r.Vals) == 0 {
		return math.NaN()
	}
	vals := slices.Clone(r.Vals)
	slices.Sort(vals)
	rank := min(max(int(math.Ceil(q*float64(len(vals)))), 1), len(vals))
	return vals[rank-1]
}

// Key names one window of one key of one aggregation: [Start, End).
type Key struct {
	Agg        string
	Group      string // store.AppendGroup of the group_by values
	Start, End int64
}

// TotalKey names the running total of one key of one aggregation.
type TotalKey struct {
	Agg   string
	Group string
}

// Results are what a run over some events must produce.
type Results struct {
	// Windows holds every window with at least one event that is not late for
	// it, closed or not.
	Windows map[Key]*Agg
	// Totals holds every key's running total: all its events, late or not.
	Totals map[TotalKey]*Agg
	// Late counts, per aggregation, the events late for it.
	Late []uint64
}

// Group is the group key of ev for aggregation a, as the store encodes it: the
// values of a's group_by dimensions, found by name.
func Group(c *config.Config, a *config.Aggregation, ev *event.Event) string {
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

// Late reports whether an event at t, processed at stream time s, is late for
// aggregation a: tumbling and hopping when a window of t is closed at s (the
// earliest, which closes first); session and sliding when t + grace <= s (for
// sliding, once its left window [t-size, t] is closed: stricter than Kafka
// Streams, where only the right window counts).
func Late(a *config.Aggregation, t, s int64) bool {
	grace := a.Grace.Millis()
	w := a.Window
	switch w.Type {
	case "tumbling":
		size := w.Size.Millis()
		return floorDiv(t, size)*size+size+grace <= s
	case "hopping":
		size, adv := w.Size.Millis(), w.Advance.Millis()
		first := (floorDiv(t-size, adv) + 1) * adv
		return first+size+grace <= s
	case "session":
		return t+grace <= s
	case "sliding":
		return t+grace <= s
	}
	panic(fmt.Sprintf("windowref: window type %q", w.Type))
}

// Compute returns every window and running total of every aggregation of c over
// events, each event left out of the windows it is late for: tumbling and hopping
// events still reach their windows open at their stream time, late session and
// sliding events none.
func Compute(c *config.Config, events []Event) Results {
	res := Results{Windows: map[Key]*Agg{}, Totals: map[TotalKey]*Agg{}, Late: make([]uint64, len(c.Aggregations))}
	at := func(k Key) *Agg {
		r := res.Windows[k]
		if r == nil {
			r = newAgg()
			res.Windows[k] = r
		}
		return r
	}
	for ai := range c.Aggregations {
		a := &c.Aggregations[ai]
		grace := a.Grace.Millis()
		byKey := map[string][]Event{}
		for _, e := range events {
			g := Group(c, a, e.Event)
			tk := TotalKey{a.Name, g}
			if res.Totals[tk] == nil {
				res.Totals[tk] = newAgg()
			}
			res.Totals[tk].Add(e.Event)
			if Late(a, e.Time, e.StreamTime) {
				res.Late[ai]++
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
					t := e.Time
					for k := floorDiv(t-size, adv) + 1; k*adv <= t; k++ {
						if k*adv+size+grace > e.StreamTime { // the window was open at stage 1
							at(Key{a.Name, g, k * adv, k*adv + size}).Add(e.Event)
						}
					}
				}
			case "session":
				gap := a.Window.Gap.Millis()
				var kept []Event
				for _, e := range evs {
					if !Late(a, e.Time, e.StreamTime) {
						kept = append(kept, e)
					}
				}
				sort.SliceStable(kept, func(i, j int) bool { return kept[i].Time < kept[j].Time })
				for i := 0; i < len(kept); {
					j := i + 1
					for j < len(kept) && kept[j].Time-kept[j-1].Time <= gap {
						j++
					}
					r := at(Key{a.Name, g, kept[i].Time, kept[j-1].Time + 1})
					for _, e := range kept[i:j] {
						r.Add(e.Event)
					}
					i = j
				}
			case "sliding":
				size := a.Window.Size.Millis()
				var kept []Event
				for _, e := range evs {
					if !Late(a, e.Time, e.StreamTime) {
						kept = append(kept, e)
					}
				}
				sort.SliceStable(kept, func(i, j int) bool { return kept[i].Time < kept[j].Time })
				times := make([]int64, len(kept))
				for i, e := range kept {
					times[i] = e.Time
				}
				// Kafka Streams' sliding windows [start, start+size], inclusive: each
				// event's left window, and its right window when an event falls in it.
				starts := map[int64]bool{}
				for _, t := range times {
					starts[t-size] = true
					if j, _ := slices.BinarySearch(times, t+1); j < len(times) && times[j] <= t+1+size {
						starts[t+1] = true
					}
				}
				for st := range starts {
					i, _ := slices.BinarySearch(times, st)
					for ; i < len(kept) && kept[i].Time <= st+size; i++ {
						at(Key{a.Name, g, st, st + size + 1}).Add(kept[i].Event)
					}
				}
			}
		}
	}
	return res
}
