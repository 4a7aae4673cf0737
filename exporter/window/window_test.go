package window

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// set is an aggregate that remembers its records, so tests can compare contents.
type set struct{ times []int64 }

func (s *set) Merge(o *set)    { s.times = append(s.times, o.times...) }
func (s *set) Clone() *set     { return &set{times: slices.Clone(s.times)} }
func (s *set) sorted() []int64 { c := slices.Clone(s.times); slices.Sort(c); return c }
func emptySet() *set           { return &set{} }
func addTo(t int64) func(*set) { return func(s *set) { s.times = append(s.times, t) } }
func (w Window) key() [2]int64 { return [2]int64{w.Start, w.End} }

func TestAssign(t *testing.T) {
	f := func(s Spec, at int64, want ...Window) {
		t.Helper()
		if got := s.Assign(nil, at); !slices.Equal(got, want) {
			t.Errorf("%v size=%d advance=%d: Assign(%d) = %v, want %v", s.Kind, s.Size, s.Advance, at, got, want)
		}
	}
	tumbling := Spec{Kind: Tumbling, Size: 60}
	f(tumbling, 0, Window{0, 60})
	f(tumbling, 59, Window{0, 60})
	f(tumbling, 60, Window{60, 120})
	f(tumbling, -1, Window{-60, 0})
	f(tumbling, -60, Window{-60, 0})
	hopping := Spec{Kind: Hopping, Size: 300, Advance: 60}
	f(hopping, 0, Window{-240, 60}, Window{-180, 120}, Window{-120, 180}, Window{-60, 240}, Window{0, 300})
	f(hopping, 299, Window{0, 300}, Window{60, 360}, Window{120, 420}, Window{180, 480}, Window{240, 540})
	f(hopping, 300, Window{60, 360}, Window{120, 420}, Window{180, 480}, Window{240, 540}, Window{300, 600})
	// Size not a multiple of the advance: two or three windows.
	odd := Spec{Kind: Hopping, Size: 25, Advance: 10}
	f(odd, 0, Window{-20, 5}, Window{-10, 15}, Window{0, 25})
	f(odd, 5, Window{-10, 15}, Window{0, 25})
}

func TestValidate(t *testing.T) {
	f := func(s Spec, wantErr string) {
		t.Helper()
		err := s.Validate()
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", s, err)
		case wantErr != "" && (err == nil || err.Error() != wantErr):
			t.Errorf("%+v: error %v, want %q", s, err, wantErr)
		}
	}
	f(Spec{Kind: Tumbling, Size: 60000, Grace: 10000, Retention: 70000}, "")
	f(Spec{Kind: Tumbling, Size: 0, Retention: 1}, "invalid window: size: must be > 0, got 0s")
	f(Spec{Kind: Hopping, Size: 300, Advance: 400, Retention: 300}, "invalid window: advance: must be > 0 and <= size (300ms), got 400ms")
	f(Spec{Kind: Session, Retention: 1}, "invalid window: gap: must be > 0, got 0s")
	f(Spec{Kind: Tumbling, Size: 60, Grace: -1, Retention: 60}, "invalid window: grace: must be >= 0, got -1ms")
	f(Spec{Kind: Tumbling, Size: 60, Grace: 10, Retention: 69}, "invalid window: retention: must be >= window size + grace (70ms), got 69ms")
}

// run feeds records in the given order with no lateness and returns every window's
// sorted contents.
func run(s Spec, times []int64) map[[2]int64][]int64 {
	var ws Windows[*set]
	for _, at := range times {
		if ws.Add(&s, at, at, addTo(at), emptySet) {
			panic("late record with no lateness possible")
		}
	}
	got := map[[2]int64][]int64{}
	for _, sl := range ws.Slots {
		got[sl.Window.key()] = sl.Agg.sorted()
	}
	return got
}

// Reference results computed from the whole record set.
func refTime(s Spec, times []int64) map[[2]int64][]int64 {
	want := map[[2]int64][]int64{}
	for _, at := range times {
		for _, w := range s.Assign(nil, at) {
			want[w.key()] = append(want[w.key()], at)
		}
	}
	return sortAll(want)
}

func refSession(gap int64, times []int64) map[[2]int64][]int64 {
	ts := slices.Clone(times)
	slices.Sort(ts)
	want := map[[2]int64][]int64{}
	for i := 0; i < len(ts); {
		j := i + 1
		for j < len(ts) && ts[j]-ts[j-1] <= gap {
			j++
		}
		want[[2]int64{ts[i], ts[j-1] + 1}] = slices.Clone(ts[i:j])
		i = j
	}
	return want
}

// refSliding lists, as Kafka Streams defines them, each record's left window
// [t-d, t] and its right window [t+1, t+1+d] when that one holds any record.
func refSliding(d int64, times []int64) map[[2]int64][]int64 {
	want := map[[2]int64][]int64{}
	in := func(lo, hi int64) (r []int64) {
		for _, x := range times {
			if lo <= x && x <= hi {
				r = append(r, x)
			}
		}
		return r
	}
	for _, at := range times {
		want[[2]int64{at - d, at + 1}] = in(at-d, at)
		if r := in(at+1, at+1+d); len(r) > 0 {
			want[[2]int64{at + 1, at + d + 2}] = r
		}
	}
	return sortAll(want)
}

func sortAll(m map[[2]int64][]int64) map[[2]int64][]int64 {
	for _, v := range m {
		slices.Sort(v)
	}
	return m
}

func diff(got, want map[[2]int64][]int64) string {
	for k, w := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g, w) {
			return fmt.Sprintf("window %v: got %v (present %v), want %v", k, g, ok, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("unexpected window %v holding %v", k, g)
		}
	}
	return ""
}

// TestAgainstReference checks every kind, records in random order (with duplicates),
// against the windows computed from the whole record set at once.
func TestAgainstReference(t *testing.T) {
	const huge = 1 << 40
	kinds := []struct {
		spec Spec
		ref  func([]int64) map[[2]int64][]int64
	}{
		{Spec{Kind: Tumbling, Size: 10, Grace: huge}, func(ts []int64) map[[2]int64][]int64 { return refTime(Spec{Kind: Tumbling, Size: 10}, ts) }},
		{Spec{Kind: Hopping, Size: 10, Advance: 3, Grace: huge}, func(ts []int64) map[[2]int64][]int64 { return refTime(Spec{Kind: Hopping, Size: 10, Advance: 3}, ts) }},
		{Spec{Kind: Session, Gap: 5, Grace: huge}, func(ts []int64) map[[2]int64][]int64 { return refSession(5, ts) }},
		{Spec{Kind: Sliding, Size: 10, Grace: huge}, func(ts []int64) map[[2]int64][]int64 { return refSliding(10, ts) }},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range kinds {
		t.Run(k.spec.Kind.String(), func(t *testing.T) {
			for trial := 0; trial < 300; trial++ {
				n := 1 + rng.IntN(25)
				times := make([]int64, n)
				for i := range times {
					times[i] = int64(rng.IntN(80)) - 20
				}
				// Stream time is the max seen; with an infinite grace nothing is late,
				// so the result must not depend on the order.
				var ws Windows[*set]
				st := int64(-1 << 62)
				for _, at := range times {
					st = max(st, at)
					if ws.Add(&k.spec, at, st, addTo(at), emptySet) {
						t.Fatalf("record %d late with infinite grace", at)
					}
				}
				got := map[[2]int64][]int64{}
				for _, sl := range ws.Slots {
					if _, dup := got[sl.Window.key()]; dup {
						t.Fatalf("records %v: window %v twice", times, sl.Window)
					}
					got[sl.Window.key()] = sl.Agg.sorted()
					if !slices.IsSortedFunc(ws.Slots, func(a, b Slot[*set]) int { return int(a.Window.Start - b.Window.Start) }) {
						t.Fatalf("records %v: slots out of order", times)
					}
				}
				if d := diff(got, k.ref(times)); d != "" {
					t.Fatalf("records %v: %s", times, d)
				}
			}
		})
	}
}

func TestSessionRemovesMergedWindows(t *testing.T) {
	s := Spec{Kind: Session, Gap: 5, Grace: 1000}
	var ws Windows[*set]
	for _, at := range []int64{10, 30, 20} { // 20 is within 5 of neither: three sessions
		ws.Add(&s, at, 30, addTo(at), emptySet)
	}
	if len(ws.Slots) != 3 || len(ws.Removed) != 0 {
		t.Fatalf("got %d sessions, %v removed; want 3, none", len(ws.Slots), ws.Removed)
	}
	ws.Add(&s, 15, 30, addTo(15), emptySet) // bridges [10,11) and [20,21)
	ws.Add(&s, 25, 30, addTo(25), emptySet) // bridges that with [30,31)
	if len(ws.Slots) != 1 || ws.Slots[0].Window != (Window{10, 31}) {
		t.Fatalf("sessions %v, want one [10,31)", ws.Slots)
	}
	if got := ws.Slots[0].Agg.sorted(); !slices.Equal(got, []int64{10, 15, 20, 25, 30}) {
		t.Errorf("merged session holds %v", got)
	}
	want := []Window{{20, 21}, {30, 31}}
	if !slices.Equal(ws.Removed, want) {
		t.Errorf("Removed = %v, want %v", ws.Removed, want)
	}
	ws.Removed = nil
	ws.Add(&s, 8, 30, addTo(8), emptySet) // moves the start: the old key goes
	if !slices.Equal(ws.Removed, []Window{{10, 31}}) || ws.Slots[0].Window != (Window{8, 31}) {
		t.Errorf("after an earlier record: slots %v removed %v", ws.Slots, ws.Removed)
	}
}

// TestLateness pins the close times to the millisecond against Kafka Streams' rules.
func TestLateness(t *testing.T) {
	f := func(s Spec, streamTime, at int64, wantLate bool) {
		t.Helper()
		var ws Windows[*set]
		if late := ws.Add(&s, at, streamTime, addTo(at), emptySet); late != wantLate {
			t.Errorf("%v: record at %d with stream time %d: late=%v, want %v", s.Kind, at, streamTime, late, wantLate)
		}
	}
	// Tumbling 1m, grace 10s: [0,60000) closes at stream time 70000.
	tumbling := Spec{Kind: Tumbling, Size: 60000, Grace: 10000}
	f(tumbling, 69999, 30000, false)
	f(tumbling, 70000, 30000, true)
	f(tumbling, 70000, 60000, false)
	// Hopping: the record is late for its oldest window only, still added to the rest.
	hopping := Spec{Kind: Hopping, Size: 300, Advance: 60}
	f(hopping, 300, 250, true)
	f(hopping, 299, 250, false)
	// Session gap 5, grace 2: a lone record at t closes at t+5+2 (inclusive end t).
	session := Spec{Kind: Session, Gap: 5, Grace: 2}
	f(session, 106, 100, false)
	f(session, 107, 100, true)
	// Sliding d=10, grace 2: late when t+1+d <= streamTime-grace (Kafka Streams).
	sliding := Spec{Kind: Sliding, Size: 10, Grace: 2}
	f(sliding, 112, 100, false)
	f(sliding, 113, 100, true)
}

// TestSlidingOrderMattersBehindGrace: a sliding record between grace and
// size+grace behind stream time is not late (Kafka Streams' rule) and goes to its
// open windows, but which windows hold it depends on the arrival order, because a
// new window is copied from a neighbour that may have closed without it. This is
// why package combine's stage 1 counts such records late (t+grace <= stream time).
func TestSlidingOrderMattersBehindGrace(t *testing.T) {
	s := Spec{Kind: Sliding, Size: 10, Grace: 5}
	f := func(order []int64, want []int64) {
		t.Helper()
		var ws Windows[*set]
		st := int64(math.MinInt64)
		for _, at := range order {
			st = max(st, at)
			if ws.Add(&s, at, st, addTo(at), emptySet) {
				t.Fatalf("order %v: record %d late at stream time %d", order, at, st)
			}
		}
		i, ok := ws.find(4)
		if !ok || ws.Slots[i].Window != (Window{4, 15}) {
			t.Fatalf("order %v: no window [4,14] in %v", order, ws.Slots)
		}
		if got := ws.Slots[i].Agg.sorted(); !slices.Equal(got, want) {
			t.Errorf("order %v: [4,14] holds %v, want %v", order, got, want)
		}
	}
	f([]int64{10, 15, 8, 14}, []int64{10, 14})    // [4,14] copied from the closed [0,10], which lacks 8
	f([]int64{10, 15, 14, 8}, []int64{8, 10, 14}) // [4,14] open when 8 arrives
}

func TestHoppingLateKeepsOpenWindows(t *testing.T) {
	s := Spec{Kind: Hopping, Size: 300, Advance: 60}
	var ws Windows[*set]
	ws.Add(&s, 250, 300, addTo(250), emptySet)
	var got []Window
	for _, sl := range ws.Slots {
		got = append(got, sl.Window)
	}
	want := []Window{{60, 360}, {120, 420}, {180, 480}, {240, 540}}
	if !slices.Equal(got, want) {
		t.Errorf("windows %v, want %v (the closed [0,300) skipped)", got, want)
	}
}
