package query

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

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
					a, _ := l.aggregation(hc.agg)
					testHoppingReads(t, a, h)
				})
			}
		}
	}
}

// TestHoppingReadsRandomSpecs checks the reads of random hopping specs: sizes
// and advances in half seconds (panes of 0.5s to several seconds, 1 to 9
// windows per time), graces, and retentions one to three advances past the
// close.
func TestHoppingReadsRandomSpecs(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 19))
	for range 30 {
		const unit = 500
		adv := unit * (1 + r.Int64N(12))
		size := adv + unit*r.Int64N(8*adv/unit+1)
		grace := unit * r.Int64N(7)
		spec := window.Spec{Kind: window.Hopping, Size: size, Advance: adv, Grace: grace, Retention: size + grace + adv*(1+r.Int64N(3))}
		if err := spec.Validate(); err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("size %d advance %d grace %d retention %d", size, adv, grace, spec.Retention), func(t *testing.T) {
			evs := randomHopEvents(r, 1500, t0, 4*size+7*adv+r.Int64N(adv), size, adv)
			var stale *rand.Rand
			if r.IntN(2) == 0 {
				stale = r
			}
			st := store.NewMemory()
			defer st.Close()
			h := buildHopStore(t, st, "hop_r", size, adv, grace, spec.Retention, evs, stale)
			testHoppingReads(t, &aggInfo{name: "hop_r", spec: spec}, h)
		})
	}
}

// testHoppingReads checks the reads of h at its stream time, and at an
// earlier one, as a caller that read the stream time before the store's last
// commit gives: windows closed since are then taken as stored, not assembled.
func testHoppingReads(t *testing.T, a *aggInfo, h *hopStore) {
	for _, st := range []int64{h.stream, h.stream - h.adv, h.stream - 1} {
		t.Run(fmt.Sprintf("stream time -%d", h.stream-st), func(t *testing.T) { testHoppingReadsAt(t, a, h, st) })
	}
}

func testHoppingReadsAt(t *testing.T, a *aggInfo, h *hopStore, streamTime int64) {
	open := 0
	for _, w := range h.windows {
		if !w.closed {
			open++
		}
	}
	if open == 0 || open == len(h.windows) {
		t.Fatalf("%d windows, %d open: the test needs both", len(h.windows), open)
	}
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
