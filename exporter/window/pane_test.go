package window

import (
	"math"
	"math/big"
	"slices"
	"testing"
)

// TestPaneAgainstAssign: for times around zero and at both ends of the int64 range,
// the pane of t holds t, has the pane size (gcd of size and advance) and lies in
// every window of t; from is the start of the earliest window of t open at the
// stream time, and late says whether a window of t is closed or missing. Checked
// against Assign and Closed, window by window.
func TestPaneAgainstAssign(t *testing.T) {
	specs := []Spec{
		{Kind: Tumbling, Size: 60, Grace: 10},
		{Kind: Hopping, Size: 300, Advance: 60, Grace: 10},
		{Kind: Hopping, Size: 25, Advance: 10, Grace: 5},
		{Kind: Hopping, Size: 7, Advance: 3},
	}
	wantG := []int64{60, 60, 5, 1}
	var times []int64
	for _, c := range []int64{math.MinInt64, -1000, 0, math.MaxInt64 - 1000} {
		for d := int64(0); d <= 1000; d += 7 {
			times = append(times, c+d)
		}
	}
	times = append(times, math.MaxInt64)
	for si, s := range specs {
		if g := s.PaneSize(); g != wantG[si] {
			t.Errorf("%+v: pane size %d, want %d", s, g, wantG[si])
		}
		for _, at := range times {
			missing := missingWindows(s, at)
			wins := s.Assign(nil, at)
			for _, lag := range []int64{0, 5, 30, 100, 400} {
				st := at + lag
				if at > math.MaxInt64-lag {
					st = math.MaxInt64
				}
				pane, from, late, ok := s.Pane(at, st)
				open := slices.IndexFunc(wins, func(w Window) bool { return !s.Closed(w, st) })
				wantLate := missing || slices.ContainsFunc(wins, func(w Window) bool { return s.Closed(w, st) })
				if ok != (open >= 0) || late != wantLate {
					t.Fatalf("%+v: Pane(%d, %d) ok %v late %v, want %v %v", s, at, st, ok, late, open >= 0, wantLate)
				}
				if !ok {
					continue
				}
				if from != wins[open].Start || !pane.Contains(at) || pane.End-pane.Start != s.PaneSize() {
					t.Fatalf("%+v: Pane(%d, %d) = %v from %d, want from %d", s, at, st, pane, from, wins[open].Start)
				}
				for _, w := range wins {
					if w.Start > pane.Start || w.End < pane.End {
						t.Fatalf("%+v: pane %v of %d not within window %v", s, pane, at, w)
					}
				}
			}
		}
	}
}

// TestMergePaneAndSession: a pane reaches exactly the windows from From on; a
// session part joins the open sessions within the gap and refuses a closed one.
func TestMergePaneAndSession(t *testing.T) {
	s := Spec{Kind: Hopping, Size: 25, Advance: 10, Grace: 5}
	var ws Windows[*set]
	if ws.MergePane(&s, Window{20, 25}, 10, 24, 0, func(a *set) { a.times = append(a.times, 24) }, emptySet) {
		t.Error("pane merged late")
	}
	var got []Window
	for _, sl := range ws.Slots {
		got = append(got, sl.Window)
	}
	if want := []Window{{10, 35}, {20, 45}}; !slices.Equal(got, want) { // [0,25) is before From
		t.Errorf("pane in %v, want %v", got, want)
	}
	if !ws.MergePane(&s, Window{20, 25}, 0, 24, 30, func(*set) {}, emptySet) { // [0,25) closed at 30
		t.Error("a pane for a closed window not reported")
	}

	ss := Spec{Kind: Session, Gap: 10, Grace: 5}
	var sw Windows[*set]
	add := func(ts ...int64) func(*set) { return func(a *set) { a.times = append(a.times, ts...) } }
	sw.MergeSession(&ss, Window{0, 3}, 0, add(0, 2), emptySet)
	sw.MergeSession(&ss, Window{30, 41}, 0, add(30, 40), emptySet)
	if late := sw.MergeSession(&ss, Window{12, 21}, 0, add(12, 20), emptySet); late || len(sw.Slots) != 1 ||
		sw.Slots[0].Window != (Window{0, 41}) || len(sw.Removed) != 1 || sw.Slots[0].Last != 40 {
		t.Errorf("bridging part: late %v, slots %+v, removed %v", late, sw.Slots, sw.Removed)
	}
	if !sw.MergeSession(&ss, Window{45, 50}, 55, add(45), emptySet) { // [0,41) closes at 55
		t.Error("a part within the gap of a closed session was merged")
	}
	if !sw.MergeSession(&ss, Window{5, 5}, 0, add(), emptySet) {
		t.Error("an empty part was merged")
	}
}

// missingWindows reports, in exact arithmetic, whether a window of t does not fit
// in the int64 range.
func missingWindows(s Spec, t int64) bool {
	adv := s.Advance
	if s.Kind == Tumbling {
		adv = s.Size
	}
	bt, badv, bsize := big.NewInt(t), big.NewInt(adv), big.NewInt(s.Size)
	start := new(big.Int).Mul(new(big.Int).Div(bt, badv), badv) // Euclidean: floored for adv > 0
	lo, hi := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	for new(big.Int).Sub(bt, bsize).Cmp(start) < 0 {
		if start.Cmp(lo) < 0 || new(big.Int).Add(start, bsize).Cmp(hi) > 0 {
			return true
		}
		start.Sub(start, badv)
	}
	return false
}
