package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
)

// TestHoppingQueries checks range, latest, top-k and values answers over
// hopping aggregations stored as closed windows and panes against the
// windows computed from the events.
func TestHoppingQueries(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	ctx := context.Background()
	for _, hc := range hopCases {
		t.Run(hc.agg, func(t *testing.T) {
			srcs, hs := hopSources(t, hc, 11)
			var all []refWindow
			stream := int64(math.MinInt64)
			for _, h := range hs {
				all = append(all, h.windows...)
				stream = max(stream, h.stream)
			}
			keyOfWindow := func(w *refWindow) string { return keyOf(hopKeys[w.key][:]) }
			// A multiple of the size and the advance: a window starts there.
			tile := hc.size * hc.adv / gcd(hc.size, hc.adv)
			last := stream - stream%tile

			t.Run("range by key, step advance", func(t *testing.T) {
				from, to := t0-tile, last+2*hc.size // steps start where windows do
				got := mustRange(t, l, srcs, RangeQuery{Aggregation: hc.agg, GroupBy: []string{"endpoint", "method"}, From: from, To: to,
					Measures: []Measure{{Kind: Quantile, Q: 0.99}}})
				want := map[string]map[int64]*refWindow{}
				for i := range all {
					w := &all[i]
					if want[keyOfWindow(w)] == nil {
						want[keyOfWindow(w)] = map[int64]*refWindow{}
					}
					want[keyOfWindow(w)][w.start] = w
				}
				if len(got.Series) != len(want) {
					t.Errorf("%d series, want %d", len(got.Series), len(want))
				}
				open := 0
				for _, s := range got.Series {
					ws := want[keyOf(s.Key)]
					if len(s.Points) != len(ws) {
						t.Errorf("%q: %d points, want %d", s.Key, len(s.Points), len(ws))
					}
					for i := range s.Points {
						p := &s.Points[i]
						w := ws[p.Start]
						where := fmt.Sprintf("%q at %d", s.Key, p.Start)
						if w == nil {
							t.Errorf("%s: no such window", where)
							continue
						}
						if p.Windows != 1 || p.Open != b2i(!w.closed) || p.End != p.Start+hc.adv {
							t.Errorf("%s: %d windows, %d open, end %d; want 1, %d, %d", where, p.Windows, p.Open, p.End, b2i(!w.closed), p.Start+hc.adv)
						}
						open += p.Open
						checkAgg(t, where, p.Agg, w.agg())
					}
				}
				if open == 0 {
					t.Error("no open window read")
				}
			})

			t.Run("range by endpoint, step of sizes", func(t *testing.T) {
				step := 2 * hc.size
				from, to := t0-hc.size, last+2*hc.size
				got := mustRange(t, l, srcs, RangeQuery{Aggregation: hc.agg, GroupBy: []string{"endpoint"}, From: from, To: to, Step: step,
					Measures: []Measure{{Kind: Quantile, Q: 0.5}}})
				type ref struct {
					evs           []*hopEvent
					windows, open int
				}
				want := map[string]map[int64]*ref{}
				for i := range all {
					w := &all[i]
					if (w.start-t0)%hc.size != 0 || w.start < from || w.start >= to {
						continue // not a tile of the step
					}
					k := hopKeys[w.key][0] + "|"
					ps := from + (w.start-from)/step*step
					if want[k] == nil {
						want[k] = map[int64]*ref{}
					}
					if want[k][ps] == nil {
						want[k][ps] = &ref{}
					}
					r := want[k][ps]
					r.evs = append(r.evs, w.evs...)
					r.windows++
					r.open += b2i(!w.closed)
				}
				if len(got.Series) != len(want) {
					t.Errorf("%d series, want %d", len(got.Series), len(want))
				}
				for _, s := range got.Series {
					if len(s.Points) != len(want[keyOf(s.Key)]) {
						t.Errorf("%q: %d points, want %d", s.Key, len(s.Points), len(want[keyOf(s.Key)]))
					}
					for i := range s.Points {
						p := &s.Points[i]
						r := want[keyOf(s.Key)][p.Start]
						where := fmt.Sprintf("%q at %d", s.Key, p.Start)
						if r == nil {
							t.Errorf("%s: no such point", where)
							continue
						}
						if p.Windows != r.windows || p.Open != r.open {
							t.Errorf("%s: %d windows, %d open; want %d, %d", where, p.Windows, p.Open, r.windows, r.open)
						}
						checkAgg(t, where, p.Agg, aggOfEvents(r.evs))
					}
				}
			})

			t.Run("latest", func(t *testing.T) {
				check := func(t *testing.T, got *LatestResult, keys []int) {
					t.Helper()
					if len(got.Keys) != len(keys) {
						t.Fatalf("%d keys, want %d", len(got.Keys), len(keys))
					}
					for i, lk := range got.Keys {
						var closed *refWindow
						var open []*refWindow
						for j := range all {
							w := &all[j]
							switch {
							case keyOf(hopKeys[w.key][:]) != keyOf(lk.Key):
							case w.closed && (closed == nil || w.start > closed.start):
								closed = w
							case !w.closed:
								open = append(open, w)
							}
						}
						slices.SortFunc(open, func(x, y *refWindow) int { return cmpInt(x.start, y.start) })
						if keyOf(lk.Key) != keyOf(hopKeys[keys[i]][:]) {
							t.Errorf("key %d: %q, want %q", i, lk.Key, hopKeys[keys[i]])
						}
						if (lk.Closed == nil) != (closed == nil) {
							t.Errorf("%q: closed %+v, want %+v", lk.Key, lk.Closed, closed)
						} else if closed != nil {
							if lk.Closed.Start != closed.start || lk.Closed.Partial || lk.Closed.Last != closed.last {
								t.Errorf("%q: closed %+v, want start %d, last %d", lk.Key, lk.Closed, closed.start, closed.last)
							}
							checkAgg(t, fmt.Sprintf("%q closed", lk.Key), lk.Closed.Agg, closed.agg())
						}
						if len(lk.Open) != len(open) {
							t.Errorf("%q: %d open windows, want %d", lk.Key, len(lk.Open), len(open))
							continue
						}
						for j, w := range lk.Open {
							if w.Start != open[j].start || w.End != w.Start+hc.size || !w.Partial || w.Last != open[j].last {
								t.Errorf("%q: open window %+v, want start %d, last %d", lk.Key, w, open[j].start, open[j].last)
							}
							checkAgg(t, fmt.Sprintf("%q open at %d", lk.Key, w.Start), w.Agg, open[j].agg())
						}
					}
				}
				got, err := l.Latest(ctx, srcs, LatestQuery{Aggregation: hc.agg, Measures: []Measure{{Kind: Quantile, Q: 0.99}}})
				if err != nil {
					t.Fatal(err)
				}
				keys := make([]int, len(hopKeys))
				for i := range keys {
					keys[i] = i
				}
				slices.SortFunc(keys, func(x, y int) int { return slices.Compare(hopKeys[x][:], hopKeys[y][:]) })
				check(t, got, keys)
				for key := range hopKeys {
					got, err := l.Latest(ctx, srcs, LatestQuery{Aggregation: hc.agg, Since: stream - 2*hc.size, Measures: []Measure{{Kind: Quantile, Q: 0.5}},
						Filters: []Matcher{{"endpoint", Equal, hopKeys[key][0]}, {"method", Equal, hopKeys[key][1]}}})
					if err != nil {
						t.Fatal(err)
					}
					if len(got.Keys) != 1 || keyOf(got.Keys[0].Key) != keyOf(hopKeys[key][:]) {
						t.Fatalf("%q: keys %+v", hopKeys[key], got.Keys)
					}
					// Since cuts the closed windows of old starts only: the
					// latest closed one starts after stream - 2 sizes.
					check(t, got, []int{key})
				}
			})

			topk := func(t *testing.T, from, to int64) (open int) {
				got, err := l.TopK(ctx, srcs, TopKQuery{Aggregation: hc.agg, From: from, To: to, Measure: Measure{Kind: Count}, K: 3})
				if err != nil {
					t.Fatal(err)
				}
				type ref struct {
					key         int
					count, open int
				}
				refs := make([]ref, len(hopKeys))
				for i := range refs {
					refs[i].key = i
				}
				for _, w := range all {
					// A range longer than the advance merges the windows that tile it.
					tile := to-from > hc.adv
					if (!tile || (w.start-t0)%hc.size == 0) && w.start >= from && w.start < to {
						refs[w.key].count += len(w.evs)
						refs[w.key].open += b2i(!w.closed)
					}
				}
				refs = slices.DeleteFunc(refs, func(r ref) bool { return r.count == 0 })
				slices.SortFunc(refs, func(x, y ref) int {
					if x.count != y.count {
						return y.count - x.count
					}
					return slices.Compare(hopKeys[x.key][:], hopKeys[y.key][:])
				})
				refs = refs[:min(3, len(refs))]
				if len(got.Entries) != len(refs) {
					t.Fatalf("%d entries, want %d", len(got.Entries), len(refs))
				}
				for i, e := range got.Entries {
					r := refs[i]
					if keyOf(e.Key) != keyOf(hopKeys[r.key][:]) || e.Value != float64(r.count) || e.Open != r.open {
						t.Errorf("[%d, %d) entry %d: %q count %v, %d open; want %q %d, %d open", from, to, i, e.Key, e.Value, e.Open, hopKeys[r.key], r.count, r.open)
					}
					open += e.Open
				}
				return open
			}
			t.Run("topk", func(t *testing.T) {
				lastStart := stream - stream%hc.adv
				for _, start := range []int64{lastStart, lastStart - hc.adv, lastStart - hc.size} {
					if topk(t, start, start+hc.adv) == 0 && start == lastStart {
						t.Errorf("[%d, %d): no open window read", start, start+hc.adv)
					}
				}
				topk(t, last-3*hc.size, last+hc.size)
				topk(t, t0, t0+2*hc.size)
			})

			t.Run("values", func(t *testing.T) {
				got, err := l.Values(ctx, srcs, ValuesQuery{Aggregation: hc.agg, Dimension: "endpoint"})
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, h := range hs {
					for _, g := range h.groups {
						vals, err := store.SplitGroup(g)
						if err != nil {
							t.Fatal(err)
						}
						want = append(want, string(vals[0]))
					}
				}
				slices.Sort(want)
				want = slices.Compact(want)
				if !slices.Equal(got.Values, want) || !slices.Contains(want, hopKeys[0][0]) {
					t.Errorf("values %q, want %q (with %q, which has open windows only)", got.Values, want, hopKeys[0][0])
				}
			})
		})
	}
}

// TestTumblingReadsUnchanged checks that a tumbling aggregation is read as
// before: each query scans the aggregation's windows once and nothing else,
// even with keys under its pane names (which stage 2 never writes for it),
// and answers from its stored windows, open ones included.
func TestTumblingReadsUnchanged(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	ctx := context.Background()
	const agg = "tumb_1m"
	r := rand.New(rand.NewPCG(12, 13))
	evs := randomHopEvents(r, 2000, t0, 10*minute+7_000, 5*minute, minute)
	stream := int64(math.MinInt64)
	type wkey struct {
		key   int
		start int64
	}
	wins := map[wkey][]*hopEvent{}
	for i := range evs {
		e := &evs[i]
		stream = max(stream, e.t)
		k := wkey{e.key, e.t - e.t%minute}
		wins[k] = append(wins[k], e)
	}
	var b store.Batch
	for k, wevs := range wins {
		last := int64(math.MinInt64)
		for _, e := range wevs {
			last = max(last, e.t)
		}
		v, err := aggregate.Value{End: k.start + minute, Last: last, Agg: aggOfEvents(wevs)}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Put(store.Key{Agg: agg, Group: hopGroup(k.key), Start: k.start}, v)
		// What a reader assembling panes would add.
		b.Put(store.Key{Agg: store.PaneAgg(agg, 0), Group: hopGroup(k.key), Start: k.start}, v)
	}
	junk, err := aggregate.Value{End: stream + minute, Last: stream, Agg: aggOfEvents([]*hopEvent{&evs[0]})}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Put(store.Key{Agg: store.PaneAgg(agg, 1), Group: store.AppendGroup(nil, []byte("/zz"), []byte("GET")), Start: stream - stream%minute}, junk)
	st := store.NewMemory()
	defer st.Close()
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	spy := newSpy(st)
	srcs := []Source{{Store: spy, StreamTime: stream}}
	checkScans := func(what string) {
		t.Helper()
		if len(spy.scans) != 1 || spy.scans[agg] != 1 {
			t.Errorf("%s: scans %v, want one of %s", what, spy.scans, agg)
		}
		clear(spy.scans)
	}
	closed := func(s int64) bool { return s+minute+10_000 <= stream }

	got := mustRange(t, l, srcs, RangeQuery{Aggregation: agg, GroupBy: []string{"endpoint", "method"}, From: t0, To: t0 + hour,
		Measures: []Measure{{Kind: Quantile, Q: 0.99}}})
	checkScans("range")
	points, open := 0, 0
	for _, s := range got.Series {
		for i := range s.Points {
			p := &s.Points[i]
			key := slices.IndexFunc(hopKeys, func(k [2]string) bool { return keyOf(k[:]) == keyOf(s.Key) })
			wevs := wins[wkey{key, p.Start}]
			if p.Windows != 1 || p.Open != b2i(!closed(p.Start)) || wevs == nil {
				t.Errorf("%q at %d: %d windows, %d open; want 1, %d", s.Key, p.Start, p.Windows, p.Open, b2i(!closed(p.Start)))
				continue
			}
			checkAgg(t, fmt.Sprintf("%q at %d", s.Key, p.Start), p.Agg, aggOfEvents(wevs))
			points++
			open += p.Open
		}
	}
	if points != len(wins) || open == 0 {
		t.Errorf("%d points (%d open), want %d (some open)", points, open, len(wins))
	}

	for _, filters := range [][]Matcher{nil, {{"endpoint", Equal, hopKeys[1][0]}, {"method", Equal, hopKeys[1][1]}}} {
		lr, err := l.Latest(ctx, srcs, LatestQuery{Aggregation: agg, Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		checkScans("latest")
		for _, lk := range lr.Keys {
			key := slices.IndexFunc(hopKeys, func(k [2]string) bool { return keyOf(k[:]) == keyOf(lk.Key) })
			var wantOpen []int64
			for k := range wins {
				if k.key == key && !closed(k.start) {
					wantOpen = append(wantOpen, k.start)
				}
			}
			slices.Sort(wantOpen)
			var gotOpen []int64
			for _, w := range lk.Open {
				gotOpen = append(gotOpen, w.Start)
				if int(w.Agg.Count) != len(wins[wkey{key, w.Start}]) {
					t.Errorf("latest %q at %d: %d events, want %d", lk.Key, w.Start, w.Agg.Count, len(wins[wkey{key, w.Start}]))
				}
			}
			if !slices.Equal(gotOpen, wantOpen) {
				t.Errorf("latest %q: open %v, want %v", lk.Key, gotOpen, wantOpen)
			}
		}
		if want := len(hopKeys); filters != nil && len(lr.Keys) != 1 || filters == nil && len(lr.Keys) != want {
			t.Errorf("latest %v: %d keys", filters, len(lr.Keys))
		}
	}

	if _, err := l.TopK(ctx, srcs, TopKQuery{Aggregation: agg, From: t0, To: t0 + hour, Measure: Measure{Kind: Count}, K: 2}); err != nil {
		t.Fatal(err)
	}
	checkScans("topk")

	vr, err := l.Values(ctx, srcs, ValuesQuery{Aggregation: agg, Dimension: "endpoint"})
	if err != nil {
		t.Fatal(err)
	}
	checkScans("values")
	if slices.Contains(vr.Values, "/zz") || len(vr.Values) != 6 {
		t.Errorf("values %q: want the 6 endpoints with windows", vr.Values)
	}
}
