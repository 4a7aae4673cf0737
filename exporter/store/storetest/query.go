package storetest

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/store"
)

// trickyValues are dimension values that break naive encodings: the escape
// bytes themselves, 0xFF, the empty value and values that are prefixes of
// others.
var trickyValues = []string{"", "\x00", "\x00\x00", "\x00\xff", "\x01", "\x01\x00", "a", "a\x00", "a\x00b", "a\x01", "ab", "\xff", "\xff\xff"}

// trickyStarts include both ends of int64 and both sides of zero.
var trickyStarts = []int64{math.MinInt64, -3_600_000, -60_000, -1, 0, 1, 60_000, math.MaxInt64 - 1}

func testKeyOrder(t *testing.T, s store.Store) {
	type put struct {
		agg   string
		tuple []string
		start int64
	}
	// Names that share prefixes, so one aggregation's scan could run into
	// the next one's keys.
	aggs := []string{"a", "a_1m", "ab", "\xff"}
	var puts []put
	for _, agg := range aggs {
		for _, v1 := range trickyValues {
			for _, v2 := range []string{"", "\x00", "x"} {
				for _, start := range trickyStarts {
					puts = append(puts, put{agg, []string{v1, v2}, start})
				}
			}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	rnd.Shuffle(len(puts), func(i, j int) { puts[i], puts[j] = puts[j], puts[i] })
	value := func(p put) string { return fmt.Sprintf("%s|%q|%d", p.agg, p.tuple, p.start) }
	for chunk := range slices.Chunk(puts, 500) {
		mustWrite(t, s, func(b *store.Batch) {
			for _, p := range chunk {
				b.Put(store.Key{Agg: p.agg, Group: group(p.tuple...), Start: p.start}, []byte(value(p)))
			}
		})
	}

	for _, agg := range aggs {
		var want []put
		for _, p := range puts {
			if p.agg == agg {
				want = append(want, p)
			}
		}
		slices.SortFunc(want, func(a, b put) int {
			if c := compareTuples(a.tuple, b.tuple); c != 0 {
				return c
			}
			return cmp.Compare(a.start, b.start)
		})
		got := dump(t, s, agg)
		if len(got) != len(want) {
			t.Fatalf("agg %q: read %d windows, wrote %d", agg, len(got), len(want))
		}
		for i, w := range want {
			g := got[i]
			if !bytes.Equal(g.group, group(w.tuple...)) || g.start != w.start || g.value != value(w) {
				t.Fatalf("agg %q: window %d is (%x, %d, %s), want (%x, %d, %s)", agg, i, g.group, g.start, g.value, group(w.tuple...), w.start, value(w))
			}
		}
	}
	for _, p := range puts[:50] {
		v, ok, err := s.Get(store.Key{Agg: p.agg, Group: group(p.tuple...), Start: p.start})
		if err != nil || !ok || string(v) != value(p) {
			t.Errorf("Get(%+v) = %q, %v, %v; want %q", p, v, ok, err, value(p))
		}
	}
}

// testMixedArity keeps groups of different lengths in one aggregation: a
// group must not see the windows of its extensions.
func testMixedArity(t *testing.T, s store.Store) {
	tuples := [][]string{{}, {""}, {"", ""}, {"a"}, {"a", ""}, {"a", "b"}, {"a", "b", "c"}, {"a\x00"}, {"a\x00", "b"}, {"ab"}}
	mustWrite(t, s, func(b *store.Batch) {
		for i, tu := range tuples {
			for _, start := range trickyStarts {
				b.Put(store.Key{Agg: "m", Group: group(tu...), Start: start}, []byte{byte(i)})
			}
		}
	})
	for i, tu := range tuples {
		got := rangeAll(t, s, "m", group(tu...), math.MinInt64, math.MaxInt64)
		if len(got) != len(trickyStarts) {
			t.Errorf("group %q: %d windows, want %d", tu, len(got), len(trickyStarts))
			continue
		}
		for j, w := range got {
			if w.start != trickyStarts[j] || w.value != string([]byte{byte(i)}) {
				t.Errorf("group %q: window %d is (%d, %x), want (%d, %x)", tu, j, w.start, w.value, trickyStarts[j], i)
			}
		}
	}
	sorted := slices.Clone(tuples)
	slices.SortFunc(sorted, compareTuples)
	got := groupsAll(t, s, "m")
	if len(got) != len(sorted) {
		t.Fatalf("Groups: %d groups, want %d", len(got), len(sorted))
	}
	for i, tu := range sorted {
		if !bytes.Equal(got[i], group(tu...)) {
			t.Errorf("Groups[%d] = %x, want %q", i, got[i], tu)
		}
	}
	if ws := windowAll(t, s, "m", -1); len(ws) != len(tuples) {
		t.Errorf("Window(-1): %d groups, want %d", len(ws), len(tuples))
	}
}

func testRangeBounds(t *testing.T, s store.Store) {
	g := group("GET /api", "200")
	other := group("GET /api", "2000")
	mustWrite(t, s, func(b *store.Batch) {
		for i := int64(-5); i < 5; i++ {
			b.Put(store.Key{Agg: "r", Group: g, Start: i * 60_000}, []byte(fmt.Sprint(i)))
			b.Put(store.Key{Agg: "r", Group: other, Start: i * 60_000}, []byte("other"))
		}
	})
	starts := func(ws []window) []int64 {
		var ss []int64
		for _, w := range ws {
			ss = append(ss, w.start/60_000)
		}
		return ss
	}
	f := func(from, to int64, want ...int64) {
		t.Helper()
		got := starts(rangeAll(t, s, "r", g, from, to))
		if !slices.Equal(got, want) {
			t.Errorf("Range(%d, %d) = minutes %v, want %v", from, to, got, want)
		}
	}
	f(math.MinInt64, math.MaxInt64, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4)
	f(0, 60_000, 0)                  // from inclusive, to exclusive
	f(-60_000, 120_000, -1, 0, 1)    // across zero
	f(-60_001, 119_999, -1, 0, 1)    // bounds between windows
	f(-59_999, 120_001, 0, 1, 2)     // bounds between windows
	f(240_000, math.MaxInt64, 4)     // last window
	f(60_000, 60_000)                // empty range
	f(120_000, 60_000)               // reversed range
	f(300_000, math.MaxInt64)        // after every window
	f(math.MinInt64, -300_000)       // before every window
	f(math.MinInt64, -299_999, -5)   // first window only
	f(math.MinInt64+1, -299_999, -5) // first window only

	n := 0
	if err := s.Range("r", g, math.MinInt64, math.MaxInt64, func(store.Entry) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Errorf("Range stopped after %d calls (err %v), want 3", n, err)
	}
	if got := rangeAll(t, s, "r", group("GET /ap"), math.MinInt64, math.MaxInt64); len(got) != 0 {
		t.Errorf("Range of a missing group returned %d windows", len(got))
	}
	if got := rangeAll(t, s, "q", g, math.MinInt64, math.MaxInt64); len(got) != 0 {
		t.Errorf("Range of a missing aggregation returned %d windows", len(got))
	}
}

func testWindow(t *testing.T, s store.Store) {
	const groups, windows = 300, 10
	has := func(i, k int) bool { return (i+k)%3 != 0 }
	g := func(i int) []byte { return group("endpoint", fmt.Sprintf("/%04d", i)) }
	mustWrite(t, s, func(b *store.Batch) {
		for i := range groups {
			for k := range windows {
				if has(i, k) {
					b.Put(store.Key{Agg: "w", Group: g(i), Start: int64(k) * 60_000}, fmt.Appendf(nil, "%d/%d", i, k))
				}
			}
		}
		b.Put(store.Key{Agg: "w2", Group: g(0), Start: 0}, []byte("other aggregation"))
	})
	for k := range windows {
		var want []window
		for i := range groups {
			if has(i, k) {
				want = append(want, window{g(i), int64(k) * 60_000, fmt.Sprintf("%d/%d", i, k)})
			}
		}
		if got := windowAll(t, s, "w", int64(k)*60_000); !equalWindows(got, want) {
			t.Errorf("Window(%d): %d groups, want %d (or wrong groups or values)", k*60_000, len(got), len(want))
		}
	}
	for _, start := range []int64{-1, 1, 30_000, windows * 60_000, math.MinInt64, math.MaxInt64} {
		if got := windowAll(t, s, "w", start); len(got) != 0 {
			t.Errorf("Window(%d) = %d groups, want none", start, len(got))
		}
	}
	n := 0
	if err := s.Window("w", 60_000, func(store.Entry) bool { n++; return n < 5 }); err != nil || n != 5 {
		t.Errorf("Window stopped after %d calls (err %v), want 5", n, err)
	}
}

func testGroups(t *testing.T, s store.Store) {
	if got := groupsAll(t, s, "g"); len(got) != 0 {
		t.Errorf("Groups of an empty store = %x", got)
	}
	var want [][]byte
	mustWrite(t, s, func(b *store.Batch) {
		for i := range 50 {
			g := group(fmt.Sprintf("%03d", i))
			want = append(want, g)
			for k := range 20 {
				b.Put(store.Key{Agg: "g", Group: g, Start: int64(k)}, nil)
			}
		}
		b.Put(store.Key{Agg: "g0", Group: group("zzz"), Start: 0}, nil)
	})
	if got := groupsAll(t, s, "g"); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Errorf("Groups = %d groups, want %d (or wrong order)", len(got), len(want))
	}
	n := 0
	if err := s.Groups("g", func([]byte) bool { n++; return n < 3 }); err != nil || n != 3 {
		t.Errorf("Groups stopped after %d calls (err %v), want 3", n, err)
	}
	// An aggregation without group-by has one, empty, group.
	mustWrite(t, s, func(b *store.Batch) { b.Put(store.Key{Agg: "total", Start: 5}, []byte("v")) })
	if got := groupsAll(t, s, "total"); len(got) != 1 || len(got[0]) != 0 {
		t.Errorf("Groups(total) = %x, want one empty group", got)
	}
}

func testGet(t *testing.T, s store.Store) {
	k := store.Key{Agg: "get", Group: group("a"), Start: -7}
	empty := store.Key{Agg: "get", Group: group("a"), Start: 7}
	if _, ok, err := s.Get(k); ok || err != nil {
		t.Fatalf("Get of a missing key = ok %v, err %v", ok, err)
	}
	mustWrite(t, s, func(b *store.Batch) {
		b.Put(k, []byte("value"))
		b.Put(empty, nil)
	})
	v, ok, err := s.Get(k)
	if err != nil || !ok || string(v) != "value" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	v[0] = 'X' // the caller owns v
	if v, _, _ := s.Get(k); string(v) != "value" {
		t.Errorf("modifying a returned value changed the store: %q", v)
	}
	if v, ok, err := s.Get(empty); err != nil || !ok || len(v) != 0 {
		t.Errorf("Get of an empty value = %q, %v, %v; want empty, true", v, ok, err)
	}
	if _, ok, _ := s.Get(store.Key{Agg: "get", Group: group("a", ""), Start: -7}); ok {
		t.Error("Get found a key of another group")
	}
}

func testInvalidKeys(t *testing.T, s store.Store) {
	bad := []store.Key{
		{Agg: "", Group: group("a")},
		{Agg: "a\x00b", Group: group("a")},
		{Agg: "a", Group: []byte("unterminated")},
		{Agg: "a", Group: []byte{0, 0}},
		{Agg: "a", Group: []byte{0}},
		{Agg: "a", Group: []byte{0, 2}},
	}
	for _, k := range bad {
		_, _, err := s.Get(k)
		wantInvalid(t, fmt.Sprintf("Get(%q, %x)", k.Agg, k.Group), err)
		err = s.Range(k.Agg, k.Group, 0, 10, func(store.Entry) bool { return true })
		wantInvalid(t, fmt.Sprintf("Range(%q, %x)", k.Agg, k.Group), err)
		var b store.Batch
		b.Put(k, []byte("v"))
		wantInvalid(t, fmt.Sprintf("Write of Put(%q, %x)", k.Agg, k.Group), s.Write(&b))
	}
	for _, agg := range []string{"", "a\x00"} {
		wantInvalid(t, "Window", s.Window(agg, 0, func(store.Entry) bool { return true }))
		wantInvalid(t, "Groups", s.Groups(agg, func([]byte) bool { return true }))
		wantInvalid(t, "Windows", s.Windows(agg, 0, 10, func(store.Entry) bool { return true }))
		_, err := s.DeleteBefore(agg, 0)
		wantInvalid(t, "DeleteBefore", err)
	}
}

// testWindows checks Windows against a filter of everything written: every window
// of the aggregation within [from, to), none of another aggregation (names that
// share prefixes), in stored key order, for random bounds and groups with few and
// many windows (the scan steps over a few and seeks over many).
func testWindows(t *testing.T, s store.Store) {
	type win struct {
		g     []byte
		start int64
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	var all []win
	mustWrite(t, s, func(b *store.Batch) {
		for i := range 200 {
			g := group(fmt.Sprintf("%03d", i), trickyValues[i%len(trickyValues)])
			n := []int{0, 1, 2, 5, 40}[i%5]
			for range n {
				st := int64(rnd.IntN(100)) * 1000
				all = append(all, win{g, st})
				b.Put(store.Key{Agg: "ws", Group: g, Start: st}, []byte(fmt.Sprint(st)))
			}
			b.Put(store.Key{Agg: "ws", Group: g, Start: math.MaxInt64}, []byte("total"))
			all = append(all, win{g, math.MaxInt64})
			b.Put(store.Key{Agg: "ws_", Group: g, Start: 500}, []byte("other"))
			b.Put(store.Key{Agg: "w", Group: g, Start: 500}, []byte("other"))
		}
	})
	f := func(from, to int64) {
		t.Helper()
		want := map[string]bool{}
		for _, w := range all {
			if from <= w.start && w.start < to {
				want[string(store.Key{Agg: "ws", Group: w.g, Start: w.start}.Append(nil))] = true
			}
		}
		var prev []byte
		got := 0
		err := s.Windows("ws", from, to, func(e store.Entry) bool {
			k := e.Key.Append(nil)
			if !want[string(k)] {
				t.Errorf("Windows(%d, %d) returned %q %x %d, which it should not", from, to, e.Key.Agg, e.Key.Group, e.Key.Start)
			}
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				t.Errorf("Windows(%d, %d): %x after %x: not in key order", from, to, k, prev)
			}
			if e.Key.Start != math.MaxInt64 && string(e.Value) != fmt.Sprint(e.Key.Start) {
				t.Errorf("Windows(%d, %d): value %q for start %d", from, to, e.Value, e.Key.Start)
			}
			prev = k
			got++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != len(want) {
			t.Errorf("Windows(%d, %d) returned %d windows, want %d", from, to, got, len(want))
		}
	}
	f(math.MinInt64, math.MaxInt64)
	f(math.MinInt64, math.MaxInt64-1)
	f(0, 1)
	f(50_000, 50_000)
	f(60_000, 10_000)
	f(99_000, math.MaxInt64)
	for range 50 {
		a, b := int64(rnd.IntN(101))*1000-500, int64(rnd.IntN(101))*1000
		f(min(a, b), max(a, b))
	}
	n := 0
	if err := s.Windows("ws", math.MinInt64, math.MaxInt64, func(store.Entry) bool { n++; return n < 7 }); err != nil || n != 7 {
		t.Errorf("Windows stopped after %d calls (err %v), want 7", n, err)
	}
}
