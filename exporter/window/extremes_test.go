package window

import (
	"cmp"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

// The tests in this file hold the arithmetic to account at the ends of the int64
// range. Their reference computes in math/big, exactly, and says what the package
// documents: a window exists only if it fits in the int64 range, and close, evict
// and expiry times saturate.

const (
	minT = math.MinInt64
	maxT = math.MaxInt64
)

var (
	bigMin = big.NewInt(minT)
	bigMax = big.NewInt(maxT)
)

func bi(v int64) *big.Int { return big.NewInt(v) }

// clip is x saturated to the int64 range.
func clip(x *big.Int) int64 {
	switch {
	case x.Cmp(bigMin) < 0:
		return minT
	case x.Cmp(bigMax) > 0:
		return maxT
	}
	return x.Int64()
}

// refAssign lists, oldest first, the windows [k*adv, k*adv+size) that contain t and
// fit in int64, by trying every k from floor(t/adv) down; dropped counts those
// that contain t but do not fit.
func refAssign(s Spec, t int64) (wins []Window, dropped int) {
	size, adv := bi(s.Size), bi(s.Advance)
	if s.Kind == Tumbling {
		adv = bi(s.Size)
	}
	k := new(big.Int).Div(bi(t), adv) // Euclidean division: floor for adv > 0
	for ; ; k.Sub(k, big.NewInt(1)) {
		start := new(big.Int).Mul(k, adv)
		end := new(big.Int).Add(start, size)
		if end.Cmp(bi(t)) <= 0 {
			break
		}
		if start.Cmp(bigMin) < 0 || end.Cmp(bigMax) > 0 {
			dropped++
			continue
		}
		wins = append(wins, Window{start.Int64(), end.Int64()})
	}
	slices.Reverse(wins)
	return wins, dropped
}

// refClose is CloseTime computed exactly, then clipped.
func refClose(s Spec, w Window) int64 {
	x := bi(w.End)
	switch s.Kind {
	case Session:
		x.Sub(x, bi(1)).Add(x, bi(s.Gap))
	case Sliding:
		x.Sub(x, bi(1))
	}
	return clip(x.Add(x, bi(s.Grace)))
}

// edges are the times every test tries, and their neighbours.
var edges = []int64{minT, minT + 1, minT + 2, -2, -1, 0, 1, maxT - 2, maxT - 1, maxT}

func TestAssignAtTheEdges(t *testing.T) {
	specs := []Spec{
		{Kind: Tumbling, Size: 1},
		{Kind: Tumbling, Size: 60000},
		{Kind: Tumbling, Size: 7},
		{Kind: Tumbling, Size: maxT},
		{Kind: Tumbling, Size: maxT / 3},
		{Kind: Hopping, Size: 300, Advance: 60},
		{Kind: Hopping, Size: 25, Advance: 10},
		{Kind: Hopping, Size: 5, Advance: 5},
		{Kind: Hopping, Size: 1, Advance: 1},
		{Kind: Hopping, Size: maxT, Advance: maxT/4 + 1},
		{Kind: Hopping, Size: maxT, Advance: maxT},
		{Kind: Hopping, Size: maxT/2 + 1, Advance: maxT / 7},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range specs {
		times := slices.Clone(edges)
		for _, e := range edges { // and a window size or so from each edge
			times = append(times, e-s.Size, e-s.Size-1, e+s.Size, e+s.Size+1, e-s.Advance, e+s.Advance)
		}
		for i := 0; i < 200; i++ {
			times = append(times, int64(rng.Uint64()))
		}
		adv := s.Advance
		if s.Kind == Tumbling {
			adv = s.Size
		}
		// ceil(size/adv), without overflow
		maxWindows := s.Size / adv
		if s.Size%adv != 0 {
			maxWindows++
		}
		for _, at := range times {
			got := s.Assign(nil, at)
			want, _ := refAssign(s, at)
			if !slices.Equal(got, want) {
				t.Fatalf("%v size=%d advance=%d: Assign(%d) = %v, want %v", s.Kind, s.Size, s.Advance, at, got, want)
			}
			if int64(len(got)) > maxWindows {
				t.Fatalf("%v size=%d advance=%d: %d windows for %d, more than ceil(size/advance) = %d", s.Kind, s.Size, s.Advance, len(got), at, maxWindows)
			}
			for _, w := range got {
				if !w.Contains(at) {
					t.Fatalf("%v: Assign(%d) gave %v, which does not contain it", s.Kind, at, w)
				}
			}
		}
	}
}

// TestHoppingNearMaxInt64Returns is the regression test of issue 7: Assign of a
// hopping window at MaxInt64 looped for ever (first-Advance > t-Size wrapped).
func TestHoppingNearMaxInt64Returns(t *testing.T) {
	s := Spec{Kind: Hopping, Size: 300000, Advance: 60000}
	for _, at := range edges {
		if n := len(s.Assign(nil, at)); n > 5 {
			t.Errorf("Assign(%d): %d windows, more than 5", at, n)
		}
	}
}

func TestTimesSaturate(t *testing.T) {
	specs := []Spec{
		{Kind: Tumbling, Size: 60},
		{Kind: Tumbling, Size: 60, Grace: maxT},
		{Kind: Hopping, Size: 300, Advance: 60, Grace: 10},
		{Kind: Session, Gap: 5, Grace: 2},
		{Kind: Session, Gap: maxT, Grace: maxT},
		{Kind: Sliding, Size: 10, Grace: 2},
		{Kind: Sliding, Size: maxT / 2, Grace: maxT},
	}
	var wins []Window
	for _, a := range edges {
		for _, b := range edges {
			if a < b {
				wins = append(wins, Window{a, b})
			}
		}
	}
	for _, s := range specs {
		for _, w := range wins {
			close := refClose(s, w)
			if got := s.CloseTime(w); got != close {
				t.Fatalf("%+v: CloseTime(%v) = %d, want %d", s, w, got, close)
			}
			evict := close
			if s.Kind == Sliding {
				x := bi(close)
				evict = clip(x.Add(x, bi(2*s.Size+1)))
			}
			if got := s.EvictTime(w); got != evict {
				t.Fatalf("%+v: EvictTime(%v) = %d, want %d", s, w, got, evict)
			}
			for _, st := range edges {
				if got := s.Closed(w, st); got != (st >= close) {
					t.Fatalf("%+v: Closed(%v, %d) = %v", s, w, st, got)
				}
			}
		}
	}
	for _, ret := range []int64{0, 1, 70, maxT - 1, maxT} {
		s := Spec{Kind: Tumbling, Size: 60, Retention: ret}
		for _, start := range edges {
			for _, st := range edges {
				x := bi(st)
				want := bi(start).Cmp(x.Sub(x, bi(ret))) < 0
				if got := s.Expired(start, st); got != want {
					t.Fatalf("retention %d: Expired(%d, %d) = %v, want %v", ret, start, st, got, want)
				}
			}
		}
	}
}

func TestValidateDoesNotOverflow(t *testing.T) {
	f := func(s Spec, wantErr bool) {
		t.Helper()
		if err := s.Validate(); (err != nil) != wantErr {
			t.Errorf("%+v: Validate() = %v, want error %v", s, err, wantErr)
		}
	}
	f(Spec{Kind: Tumbling, Size: maxT, Grace: 1, Retention: 5}, true) // size+grace wrapped to < 0
	if err := (Spec{Kind: Tumbling, Size: maxT, Grace: 1, Retention: 5}).Validate(); err == nil ||
		err.Error() != "invalid window: retention: must be >= window size + grace (9223372036854775807ms), got 5ms" {
		t.Errorf("got %v", err)
	}
	f(Spec{Kind: Tumbling, Size: maxT, Grace: maxT, Retention: maxT - 1}, true)
	f(Spec{Kind: Tumbling, Size: maxT, Grace: maxT, Retention: maxT}, false)
	f(Spec{Kind: Session, Gap: maxT, Grace: 1, Retention: maxT}, false)
}

// TestAddAtTheEdges feeds every kind records at and around the ends of the int64
// range and 0, in random order, and checks each record's lateness and every
// window's contents against a reference. With a grace of 2^40, only two things make
// a record late here: a window that does not fit in the int64 range, and a stream
// time of MaxInt64, which closes every window (their close times saturate).
func TestAddAtTheEdges(t *testing.T) {
	const grace = 1 << 40
	type result struct {
		late []bool
		wins map[[2]int64][]int64
	}
	// timeBased simulates tumbling and hopping windows record by record.
	timeBased := func(s Spec, times []int64) result {
		r := result{wins: map[[2]int64][]int64{}}
		st := int64(minT)
		for _, at := range times {
			st = max(st, at)
			wins, dropped := refAssign(s, at)
			late := dropped > 0
			for _, w := range wins {
				if st >= refClose(s, w) {
					late = true
					continue
				}
				r.wins[w.key()] = append(r.wins[w.key()], at)
			}
			r.late = append(r.late, late)
		}
		sortAll(r.wins)
		return r
	}
	// keyed: the records whose windows fit (lo <= t <= hi) and that come before
	// stream time reaches MaxInt64 are accepted; the windows are then those of the
	// whole accepted set.
	keyed := func(lo, hi int64, ref func([]int64) map[[2]int64][]int64) func(Spec, []int64) result {
		return func(_ Spec, times []int64) result {
			var r result
			var accepted []int64
			st := int64(minT)
			for _, at := range times {
				st = max(st, at)
				ok := lo <= at && at <= hi && st < maxT
				if ok {
					accepted = append(accepted, at)
				}
				r.late = append(r.late, !ok)
			}
			r.wins = ref(accepted)
			return r
		}
	}
	const d, gap = 10, 5
	kinds := []struct {
		spec Spec
		ref  func(Spec, []int64) result
	}{
		{Spec{Kind: Tumbling, Size: 10, Grace: grace}, timeBased},
		{Spec{Kind: Hopping, Size: 10, Advance: 3, Grace: grace}, timeBased},
		{Spec{Kind: Session, Gap: gap, Grace: grace}, keyed(minT, maxT-1, func(ts []int64) map[[2]int64][]int64 { return refSession(gap, ts) })},
		{Spec{Kind: Sliding, Size: d, Grace: grace}, keyed(minT+d, maxT-d-2, func(ts []int64) map[[2]int64][]int64 { return refSliding(d, ts) })},
	}
	var groups [][]int64
	for _, base := range []int64{minT, 0, maxT} {
		var g []int64
		for off := int64(-25); off <= 25; off++ {
			if (base == minT && off < 0) || (base == maxT && off > 0) {
				continue
			}
			g = append(g, base+off)
		}
		groups = append(groups, g)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range kinds {
		t.Run(k.spec.Kind.String(), func(t *testing.T) {
			for trial := 0; trial < 600; trial++ {
				g := groups[trial%len(groups)]
				times := make([]int64, 1+rng.IntN(12))
				for i := range times {
					times[i] = g[rng.IntN(len(g))]
				}
				want := k.ref(k.spec, times)
				var ws Windows[*set]
				st := int64(minT)
				for i, at := range times {
					st = max(st, at)
					if late := ws.Add(&k.spec, at, st, addTo(at), emptySet); late != want.late[i] {
						t.Fatalf("records %v: record %d late=%v, want %v", times, at, late, want.late[i])
					}
				}
				got := map[[2]int64][]int64{}
				for _, sl := range ws.Slots {
					if _, dup := got[sl.Window.key()]; dup {
						t.Fatalf("records %v: window %v twice", times, sl.Window)
					}
					got[sl.Window.key()] = sl.Agg.sorted()
				}
				if !slices.IsSortedFunc(ws.Slots, func(a, b Slot[*set]) int { return cmp.Compare(a.Window.Start, b.Window.Start) }) {
					t.Fatalf("records %v: slots out of order", times)
				}
				if diff := diff(got, want.wins); diff != "" {
					t.Fatalf("records %v: %s", times, diff)
				}
			}
		})
	}
}
