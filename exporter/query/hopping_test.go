package query

import (
	"bytes"
	"cmp"
	"context"
	"errors"
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

// TestHoppingReads checks the three reads of a hopping aggregation against
// windows computed from the events: every window within retention read once,
// in key order, a closed one as stored and an open one as the merge of the
// events that go to it, whatever panes remain.
func TestHoppingReads(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	for _, hc := range hopCases {
		size, adv := hc.size, hc.adv
		for kind, stores := range storeKinds(t, 2) {
			for i, stale := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stale=%v", hc.agg, kind, stale), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(size), uint64(i)))
					evs := randomHopEvents(r, 3000, t0, 4*size+7*adv+3, size, adv)
					var staleR *rand.Rand
					if stale {
						staleR = r
					}
					h := buildHopStore(t, stores[i], hc.agg, size, adv, hc.grace, hc.reten, evs, staleR)
					testHoppingReads(t, l, h)
				})
			}
		}
	}
}

// testHoppingReads checks the reads of h at its stream time, and at an
// earlier one, as a caller that read the stream time before the store's last
// commit gives: windows closed since are then taken as stored, not assembled.
func testHoppingReads(t *testing.T, l *Local, h *hopStore) {
	for _, st := range []int64{h.stream, h.stream - h.adv, h.stream - 1} {
		t.Run(fmt.Sprintf("stream time -%d", h.stream-st), func(t *testing.T) { testHoppingReadsAt(t, l, h, st) })
	}
}

func testHoppingReadsAt(t *testing.T, l *Local, h *hopStore, streamTime int64) {
	open := 0
	for _, w := range h.windows {
		if !w.closed {
			open++
		}
	}
	if open == 0 || open == len(h.windows) {
		t.Fatalf("%d windows, %d open: the test needs both", len(h.windows), open)
	}
	a, _ := l.aggregation(h.agg)
	src := Source{Store: h.st, StreamTime: streamTime}
	hr := newHopping(src, a)
	size, adv := h.size, h.adv
	last := h.stream - h.stream%adv // the last window's start
	ranges := [][2]int64{{last, last + adv}, {last - adv, last}, {last - size, last + 1}, {math.MinInt64, maxStart}, {t0, t0 + 3*size}, {h.stream - size, h.stream + 1}, {h.stream - 2*adv + 1, h.stream - adv + 1}, {h.stream + 1, maxStart}, {t0 - size, t0}}
	for _, rg := range ranges {
		what := fmt.Sprintf("[%d, %d)", rg[0], rg[1])
		h.checkEntries(t, "Windows "+what, collect(t, func(fn func(store.Entry) bool) error { return hr.Windows(rg[0], rg[1], fn) }), h.between(-1, rg[0], rg[1]))
		for key := range hopKeys {
			got := collect(t, func(fn func(store.Entry) bool) error { return hr.Range(hopGroup(key), rg[0], rg[1], fn) })
			h.checkEntries(t, fmt.Sprintf("Range %q %s", hopKeys[key], what), got, h.between(key, rg[0], rg[1]))
		}
	}
	all := h.between(-1, math.MinInt64, maxStart)
	for _, n := range []int{1, 2, len(all) / 2, len(all) - 1} {
		got := collectN(t, n, func(fn func(store.Entry) bool) error { return hr.Windows(math.MinInt64, maxStart, fn) })
		h.checkEntries(t, fmt.Sprintf("Windows stopped after %d", n), got, all[:n])
	}
	var groups [][]byte
	if err := hr.Groups(func(g []byte) bool { groups = append(groups, bytes.Clone(g)); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(groups, h.groups, bytes.Equal) {
		t.Errorf("groups %q, want %q", groups, h.groups)
	}
	for n := 1; n < len(h.groups); n++ {
		var got [][]byte
		if err := hr.Groups(func(g []byte) bool {
			if len(got) == n {
				t.Fatalf("Groups: called again after returning false")
			}
			got = append(got, bytes.Clone(g))
			return len(got) < n
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, h.groups[:n], bytes.Equal) {
			t.Errorf("groups stopped after %d: %q, want %q", n, got, h.groups[:n])
		}
	}
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

// spyStore counts the scans of each aggregation name, and runs hook once, as
// soon as the first scan has read the store (at its first entry, or its end).
type spyStore struct {
	store.Store
	scans map[string]int
	hook  func()
}

func newSpy(st store.Store) *spyStore { return &spyStore{Store: st, scans: map[string]int{}} }

func (s *spyStore) fire() {
	if h := s.hook; h != nil {
		s.hook = nil
		h()
	}
}

func (s *spyStore) wrap(agg string, fn func(store.Entry) bool) func(store.Entry) bool {
	s.scans[agg]++
	return func(e store.Entry) bool {
		s.fire()
		return fn(e)
	}
}

func (s *spyStore) Range(agg string, group []byte, from, to int64, fn func(store.Entry) bool) error {
	defer s.fire()
	return s.Store.Range(agg, group, from, to, s.wrap(agg, fn))
}

func (s *spyStore) Windows(agg string, from, to int64, fn func(store.Entry) bool) error {
	defer s.fire()
	return s.Store.Windows(agg, from, to, s.wrap(agg, fn))
}

func (s *spyStore) Groups(agg string, fn func([]byte) bool) error {
	defer s.fire()
	s.scans[agg]++
	return s.Store.Groups(agg, func(g []byte) bool {
		s.fire()
		return fn(g)
	})
}

// TestHoppingCommitDuringRead lets a stage-2 commit that closes windows land
// right after the first scan of a read has read the store: every window must
// still be read once, whole. (Read the other way round, windows first, a
// window closed by the commit was missed as stored and lost its panes.)
func TestHoppingCommitDuringRead(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	for _, hc := range hopCases[:2] {
		for _, kind := range []string{"memory", "rocks"} {
			t.Run(hc.agg+"/"+kind, func(t *testing.T) {
				build := func() *hopStore {
					var st store.Store = store.NewMemory()
					if kind == "rocks" {
						var err error
						if st, err = store.OpenRocks(t.TempDir(), store.RocksOptions{}); err != nil {
							t.Fatal(err)
						}
					}
					t.Cleanup(func() { st.Close() })
					r := rand.New(rand.NewPCG(7, uint64(hc.size)))
					evs := randomHopEvents(r, 2000, t0, 3*hc.size+5*hc.adv+1, hc.size, hc.adv)
					return buildHopStore(t, st, hc.agg, hc.size, hc.adv, hc.grace, hc.reten, evs, nil)
				}
				a, _ := l.aggregation(hc.agg)
				read := func(what string, scan func(h *hopping, fn func(store.Entry) bool) error, want func(h *hopStore) []refWindow) {
					t.Helper()
					h := build()
					spy := newSpy(h.st)
					closed := 0
					spy.hook = func() { closed = h.commit(t, h.stream+2*hc.adv) }
					got := collect(t, func(fn func(store.Entry) bool) error {
						return scan(newHopping(Source{Store: spy, StreamTime: h.stream}, a), fn)
					})
					if closed == 0 {
						t.Fatalf("%s: the commit closed no window", what)
					}
					h.checkEntries(t, what, got, want(h))
				}
				read("Windows", func(h *hopping, fn func(store.Entry) bool) error { return h.Windows(math.MinInt64, maxStart, fn) },
					func(h *hopStore) []refWindow { return h.windows })
				for key := range hopKeys {
					read(fmt.Sprintf("Range %q", hopKeys[key]), func(h *hopping, fn func(store.Entry) bool) error {
						return h.Range(hopGroup(key), math.MinInt64, maxStart, fn)
					}, func(h *hopStore) []refWindow { return h.between(key, math.MinInt64, maxStart) })
				}
			})
		}
	}
}

// TestHoppingOldWindowsReadNoPanes checks that a read of windows that had all
// closed at the source's stream time scans no pane variant, and that a read
// reaching open windows scans each one once.
func TestHoppingOldWindowsReadNoPanes(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	hc := hopCases[0]
	r := rand.New(rand.NewPCG(8, 9))
	evs := randomHopEvents(r, 2000, t0, 4*hc.size, hc.size, hc.adv)
	h := buildHopStore(t, store.NewMemory(), hc.agg, hc.size, hc.adv, hc.grace, hc.reten, evs, r)
	a, _ := l.aggregation(hc.agg)
	variants := int(hc.size / hc.adv)
	f := func(from, to int64, wantScans int) {
		t.Helper()
		for _, exact := range []bool{false, true} {
			spy := newSpy(h.st)
			if err := scanWindows(Source{Store: spy, StreamTime: h.stream}, a, exact, hopGroup(0), from, to, func(store.Entry) bool { return true }); err != nil {
				t.Fatal(err)
			}
			for v := range variants + 1 {
				want := wantScans
				if v == variants {
					want = 0 // no variant past ceil(size/advance)
				}
				if got := spy.scans[store.PaneAgg(hc.agg, v)]; got != want {
					t.Errorf("[%d, %d) exact %v: %d scans of variant %d, want %d", from, to, exact, got, v, want)
				}
			}
			if spy.scans[hc.agg] != 1 {
				t.Errorf("[%d, %d) exact %v: %d scans of the windows, want 1", from, to, exact, spy.scans[hc.agg])
			}
		}
	}
	closedBefore := h.stream - hc.size - hc.grace // windows starting at or before it are closed
	f(t0, closedBefore+1, 0)
	f(math.MinInt64, closedBefore+1, 0)
	f(t0, closedBefore+2, 1)
	f(math.MinInt64, maxStart, 1)
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

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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

// failStore fails the scans of one name with errInjected after passing on
// some of their entries.
type failStore struct {
	store.Store
	name  string
	after int
}

var errInjected = errors.New("injected")

func (s *failStore) scan(agg string, fn func(store.Entry) bool, scan func(func(store.Entry) bool) error) error {
	if agg != s.name {
		return scan(fn)
	}
	n := 0
	err := scan(func(e store.Entry) bool {
		if n == s.after {
			return false
		}
		n++
		return fn(e)
	})
	return cmp.Or(err, errInjected)
}

func (s *failStore) Range(agg string, group []byte, from, to int64, fn func(store.Entry) bool) error {
	return s.scan(agg, fn, func(fn func(store.Entry) bool) error { return s.Store.Range(agg, group, from, to, fn) })
}

func (s *failStore) Windows(agg string, from, to int64, fn func(store.Entry) bool) error {
	return s.scan(agg, fn, func(fn func(store.Entry) bool) error { return s.Store.Windows(agg, from, to, fn) })
}

func (s *failStore) Groups(agg string, fn func([]byte) bool) error {
	return s.scan(agg, func(e store.Entry) bool { return fn(e.Key.Group) }, func(fn func(store.Entry) bool) error {
		return s.Store.Groups(agg, func(g []byte) bool { return fn(store.Entry{Key: store.Key{Group: g}}) })
	})
}

// TestHoppingReadErrors checks that a scan failing, at its start or midway,
// whether of the windows or of any pane variant, and a corrupt pane fail
// every read with their error.
func TestHoppingReadErrors(t *testing.T) {
	l := newLocal(t, parseConfig(t, hopConfig), Limits{})
	hc := hopCases[1]
	r := rand.New(rand.NewPCG(14, 15))
	h := buildHopStore(t, store.NewMemory(), hc.agg, hc.size, hc.adv, hc.grace, hc.reten,
		randomHopEvents(r, 1000, t0, 5*hc.size, hc.size, hc.adv), nil)
	a, _ := l.aggregation(hc.agg)
	reads := map[string]func(h *hopping) error{
		"Windows": func(h *hopping) error {
			return h.Windows(math.MinInt64, maxStart, func(store.Entry) bool { return true })
		},
		"Range": func(h *hopping) error {
			return h.Range(hopGroup(1), math.MinInt64, maxStart, func(store.Entry) bool { return true })
		},
		"Groups": func(h *hopping) error { return h.Groups(func([]byte) bool { return true }) },
	}
	names := []string{hc.agg}
	for v := range int((hc.size + hc.adv - 1) / hc.adv) {
		names = append(names, store.PaneAgg(hc.agg, v))
	}
	for what, read := range reads {
		for _, name := range names {
			for _, after := range []int{0, 1, 3} {
				fs := &failStore{Store: h.st, name: name, after: after}
				if err := read(newHopping(Source{Store: fs, StreamTime: h.stream}, a)); !errors.Is(err, errInjected) {
					t.Errorf("%s, %s failing after %d entries: %v", what, name, after, err)
				}
			}
		}
	}
	// A corrupt pane of the key read by Range.
	var b store.Batch
	b.Put(store.Key{Agg: store.PaneAgg(hc.agg, 0), Group: hopGroup(1), Start: h.stream - h.stream%2000}, []byte{1, 0, 2})
	if err := h.st.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"Windows", "Range"} {
		if err := reads[what](newHopping(Source{Store: h.st, StreamTime: h.stream}, a)); !errors.Is(err, aggregate.ErrCorrupt) {
			t.Errorf("%s over a corrupt pane: %v", what, err)
		}
	}
}
