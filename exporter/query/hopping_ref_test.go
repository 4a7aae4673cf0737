package query

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// hopConfig has hopping aggregations whose open windows stage 2 keeps as
// panes (store.PaneAgg), retained two advances past their close, so that
// closed windows leave the store while panes they share with open windows
// remain, and a tumbling one.
const hopConfig = `
events:
  timestamp: {field: ts, unit: ms}
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions:
    - name: endpoint
    - name: method
aggregations:
  - name: hop_5m
    group_by: [endpoint, method]
    window: {type: hopping, size: 5m, advance: 1m}
    grace: 10s
    retention: 7m10s
    quantiles: [0.5, 0.99]
  - name: hop_10s
    group_by: [endpoint, method]
    window: {type: hopping, size: 10s, advance: 4s}
    grace: 3s
    retention: 21s
    quantiles: [0.5, 0.99]
  - name: hop_6s
    group_by: [endpoint, method]
    window: {type: hopping, size: 6s, advance: 6s}
    grace: 1s
    retention: 19s
    quantiles: [0.5]
  - name: tumb_1m
    group_by: [endpoint, method]
    window: {type: tumbling, size: 1m}
    grace: 10s
    quantiles: [0.99]
stream:
  application_id: hoptest
  input_topic: in
`

// hopKeys are the keys of the events; the first one has only open windows.
var hopKeys = [][2]string{{"/0", "GET"}, {"/a", "GET"}, {"/a", "POST"}, {"/b", "GET"}, {"/c", "GET"}, {"/d", "PUT"}, {"/e", "GET"}}

// hopEvent is an event as stage 2 receives it in a pane: from is the start of
// the earliest window it goes to (stage 1 had closed the earlier ones).
type hopEvent struct {
	t, from  int64
	key      int // in hopKeys
	status   int
	value    float64 // whole milliseconds: sums are exact in any order
	hasValue bool
}

func (e *hopEvent) event() *event.Event {
	class := event.OK
	switch {
	case e.status >= 500:
		class = event.ServerError
	case e.status >= 400:
		class = event.ClientError
	}
	k := hopKeys[e.key]
	return &event.Event{Time: e.t, Value: e.value, HasValue: e.hasValue, Status: e.status, Class: class,
		Dims: [][]byte{[]byte(k[0]), []byte(k[1])}}
}

func hopGroup(key int) []byte {
	return store.AppendGroup(nil, []byte(hopKeys[key][0]), []byte(hopKeys[key][1]))
}

// hopStarts returns the starts of the windows of (size, adv) that hold t,
// ascending, by enumeration: no formula shared with package window.
func hopStarts(t, size, adv int64) []int64 {
	s := t - size - adv
	s -= ((s % adv) + adv) % adv // a multiple of adv, at least one advance before the first window of t
	var out []int64
	for ; s <= t; s += adv {
		if s <= t && t < s+size {
			out = append(out, s)
		}
	}
	return out
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// refWindow is a window as the reference computes it from the events.
type refWindow struct {
	key         int
	start, last int64
	closed      bool
	evs         []*hopEvent
}

func (w *refWindow) agg() *aggregate.Aggregate { return aggOfEvents(w.evs) }

func aggOfEvents(evs []*hopEvent) *aggregate.Aggregate {
	a := aggregate.New(sketch.DefaultSchema, true)
	for _, e := range evs {
		a.Add(e.event())
	}
	return a
}

// hopStore is one stage-2 store of a hopping aggregation, written as the new
// stage 2 would, and what reading it must give.
type hopStore struct {
	st      store.Store
	agg     string
	size    int64
	adv     int64
	grace   int64
	stream  int64       // stream time: the latest event time
	windows []refWindow // what must be read: in key order, expired windows left out
	groups  [][]byte    // the groups stored under the aggregation or a pane variant, ascending
	panes   []storedPane
}

// storedPane is a pane variant written, and the windows it goes to.
type storedPane struct {
	key    store.Key
	starts []int64
}

// buildHopStore writes the events of keys into st as stage 2 keeps them at
// stream time the latest event time: each closed window within retention
// whole under agg, and each pane variant that an open window still needs
// under store.PaneAgg. With stale, it also keeps some panes whose windows
// have all closed (a stage 2 that has not deleted them yet).
func buildHopStore(t *testing.T, st store.Store, agg string, size, adv, grace, retention int64, evs []hopEvent, stale *rand.Rand) *hopStore {
	t.Helper()
	h := &hopStore{st: st, agg: agg, size: size, adv: adv, grace: grace, stream: math.MinInt64}
	for i := range evs {
		h.stream = max(h.stream, evs[i].t)
	}
	closed := func(s int64) bool { return s+size+grace <= h.stream }
	type wkey struct {
		key   int
		start int64
	}
	wins := map[wkey]*refWindow{}
	type pkey struct {
		key      int
		p, from  int64
		variants int
	}
	panes := map[pkey][]*hopEvent{}
	g := gcd(size, adv)
	for i := range evs {
		e := &evs[i]
		starts := hopStarts(e.t, size, adv)
		for _, s := range starts {
			if s < e.from {
				continue
			}
			w := wins[wkey{e.key, s}]
			if w == nil {
				w = &refWindow{key: e.key, start: s, last: math.MinInt64, closed: closed(s)}
				wins[wkey{e.key, s}] = w
			}
			w.evs = append(w.evs, e)
			w.last = max(w.last, e.t)
		}
		p := e.t - ((e.t%g)+g)%g
		pk := pkey{e.key, p, e.from, len(starts)}
		panes[pk] = append(panes[pk], e)
	}
	var b store.Batch
	groups := map[string]bool{}
	for _, w := range wins {
		if w.start < h.stream-retention {
			continue // deleted by retention
		}
		h.windows = append(h.windows, *w)
		if !w.closed {
			continue
		}
		v, err := aggregate.Value{End: w.start + size, Last: w.last, Agg: w.agg()}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Put(store.Key{Agg: agg, Group: hopGroup(w.key), Start: w.start}, v)
		groups[string(hopGroup(w.key))] = true
	}
	for pk, pevs := range panes {
		starts := hopStarts(pk.p, size, adv)
		v := slices.Index(starts, pk.from)
		if v < 0 || len(starts) != pk.variants {
			t.Fatalf("pane %d: from %d not among its windows %v", pk.p, pk.from, starts)
		}
		needed := false
		for _, s := range starts[v:] {
			needed = needed || !closed(s)
		}
		if !needed && (stale == nil || stale.IntN(2) == 0) {
			continue
		}
		last := int64(math.MinInt64)
		for _, e := range pevs {
			last = max(last, e.t)
		}
		val, err := aggregate.Value{End: pk.p + g, Last: last, Agg: aggOfEvents(pevs)}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		k := store.Key{Agg: store.PaneAgg(agg, v), Group: hopGroup(pk.key), Start: pk.p}
		b.Put(k, val)
		h.panes = append(h.panes, storedPane{k, starts[v:]})
		groups[string(hopGroup(pk.key))] = true
	}
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(h.windows, func(x, y refWindow) int {
		if c := bytes.Compare(hopGroup(x.key), hopGroup(y.key)); c != 0 {
			return c
		}
		return cmpInt(x.start, y.start)
	})
	for g := range groups {
		h.groups = append(h.groups, []byte(g))
	}
	slices.SortFunc(h.groups, bytes.Compare)
	return h
}

// randomHopEvents returns n events of random keys over [from, from+dur), each
// going to its windows from a random one on (mostly the first).
func randomHopEvents(r *rand.Rand, n int, from, dur, size, adv int64) []hopEvent {
	evs := make([]hopEvent, n)
	for i := range evs {
		e := &evs[i]
		e.t = from + r.Int64N(dur)
		e.key = r.IntN(len(hopKeys))
		if e.key == 0 {
			// A new key: only windows still open, so only panes.
			e.t = from + dur - 1 - r.Int64N(adv)
		}
		starts := hopStarts(e.t, size, adv)
		e.from = starts[0]
		if r.IntN(3) == 0 {
			e.from = starts[r.IntN(len(starts))]
		}
		switch x := r.IntN(100); {
		case x < 5:
			e.status = 503
		case x < 12:
			e.status = 404
		default:
			e.status = 200
		}
		e.hasValue = r.IntN(20) != 0
		e.value = float64(1 + r.IntN(2000))
	}
	return evs
}

// checkAgg compares an aggregate read with the reference's, exactly: the
// values are whole, and sketches merge bucket by bucket.
func checkAgg(t *testing.T, where string, got, want *aggregate.Aggregate) {
	t.Helper()
	if got.Count != want.Count || got.ClientErrors != want.ClientErrors || got.ServerErrors != want.ServerErrors ||
		got.Values != want.Values || got.Sum != want.Sum || got.Min != want.Min || got.Max != want.Max {
		t.Errorf("%s: got %d events (4xx %d, 5xx %d, %d values, sum %v, min %v, max %v), want %d (%d, %d, %d, %v, %v, %v)", where,
			got.Count, got.ClientErrors, got.ServerErrors, got.Values, got.Sum, got.Min, got.Max,
			want.Count, want.ClientErrors, want.ServerErrors, want.Values, want.Sum, want.Min, want.Max)
		return
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		if g, w := got.Quantile(q), want.Quantile(q); g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
			t.Errorf("%s: q%v %v, want %v", where, q, g, w)
		}
	}
}

// readEntries decodes what a scan visits.
type readEntry struct {
	group string
	start int64
	val   aggregate.Value
}

func collect(t *testing.T, scan func(fn func(store.Entry) bool) error) []readEntry {
	return collectN(t, math.MaxInt, scan)
}

// collectN stops the scan after n entries.
func collectN(t *testing.T, n int, scan func(fn func(store.Entry) bool) error) []readEntry {
	t.Helper()
	var out []readEntry
	err := scan(func(e store.Entry) bool {
		if len(out) == n {
			t.Fatalf("called again after returning false")
		}
		var v aggregate.Value
		if err := v.UnmarshalBinary(e.Value); err != nil {
			t.Fatalf("window %x at %d: %v", e.Key.Group, e.Key.Start, err)
		}
		out = append(out, readEntry{string(e.Key.Group), e.Key.Start, v})
		return len(out) < n
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkEntries compares what a scan read with the reference windows.
func (h *hopStore) checkEntries(t *testing.T, what string, got []readEntry, want []refWindow) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		if i >= len(got) || i >= len(want) {
			t.Errorf("%s: read %d windows, want %d", what, len(got), len(want))
			return
		}
		g, w := &got[i], &want[i]
		where := fmt.Sprintf("%s: window %d of %q at %d", what, i, hopKeys[w.key], w.start)
		if g.group != string(hopGroup(w.key)) || g.start != w.start {
			t.Errorf("%s: read %x at %d", where, g.group, g.start)
			return
		}
		if g.val.End != w.start+h.size || g.val.Last != w.last {
			t.Errorf("%s: end %d, last %d, want %d, %d", where, g.val.End, g.val.Last, w.start+h.size, w.last)
		}
		checkAgg(t, where, g.val.Agg, w.agg())
	}
}

func (h *hopStore) between(key int, from, to int64) []refWindow {
	var out []refWindow
	for _, w := range h.windows {
		if (key < 0 || w.key == key) && w.start >= from && w.start < to {
			out = append(out, w)
		}
	}
	return out
}

type hopCase struct {
	agg                     string
	size, adv, grace, reten int64
}

var hopCases = []hopCase{
	{"hop_5m", 5 * minute, minute, 10_000, 7*minute + 10_000},
	{"hop_10s", 10_000, 4_000, 3_000, 21_000},
	{"hop_6s", 6_000, 6_000, 1_000, 19_000},
}

func parseConfig(t testing.TB, text string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// commit writes what a stage-2 commit that moves stream time from h.stream to
// st, without new events, writes: the windows that close, whole, and the
// deletion of the panes whose windows have all closed.
func (h *hopStore) commit(t *testing.T, st int64) (closed int) {
	t.Helper()
	closes := func(s, at int64) bool { return s+h.size+h.grace <= at }
	var b store.Batch
	for _, w := range h.windows {
		if closes(w.start, st) && !closes(w.start, h.stream) {
			v, err := aggregate.Value{End: w.start + h.size, Last: w.last, Agg: w.agg()}.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			b.Put(store.Key{Agg: h.agg, Group: hopGroup(w.key), Start: w.start}, v)
			closed++
		}
	}
	for _, p := range h.panes {
		if closes(slices.Max(p.starts), st) {
			b.Delete(p.key)
		}
	}
	if err := h.st.Write(&b); err != nil {
		t.Fatal(err)
	}
	return closed
}

// hopSources writes random events of hc into two stores, a key's events all
// into one, each store at its own stream time.
func hopSources(t *testing.T, hc hopCase, seed uint64) ([]Source, []*hopStore) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, uint64(hc.size)))
	evs := randomHopEvents(r, 4000, t0, 4*hc.size+5*hc.adv+1, hc.size, hc.adv)
	var srcs []Source
	var hs []*hopStore
	for i, kind := range []string{"memory", "rocks"} {
		var mine []hopEvent
		for _, e := range evs {
			if e.key%2 == i {
				mine = append(mine, e)
			}
		}
		var st store.Store = store.NewMemory()
		if kind == "rocks" {
			var err error
			if st, err = store.OpenRocks(t.TempDir(), store.RocksOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { st.Close() })
		h := buildHopStore(t, st, hc.agg, hc.size, hc.adv, hc.grace, hc.reten, mine, r)
		hs = append(hs, h)
		srcs = append(srcs, Source{Partition: int32(i), Store: st, StreamTime: h.stream})
	}
	return srcs, hs
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
