package query

import (
	"math"

	"github.com/kwindow/kwindow/exporter/window"
)

// Resolutions. An aggregation with rollups is stored at several resolutions:
// its windows, and rollup windows that each merge the windows of a longer,
// aligned span exactly (see package stream). A range query reads, for each
// step, the coarsest rollups that fit in it and are final, and the finer
// resolutions only where those do not reach: at the step's edges when they
// fall off the rollups' boundaries, and where rollup windows are not final yet
// (a rollup window is written once each of its windows closes, so until the
// last one has, its own windows are read instead). Counts are therefore the
// same whichever resolution serves a step, and so are the sketch buckets: the
// merge is exact, so quantiles are equal too, within the sketch's relative
// error of the exact ones whatever the resolution.
//
// A step is split coarsest first. With a covered span [cA, cB) from the
// coarser levels (empty at first), level L takes [ceil(ps, R), cA) and
// [cB, B), where B is the last multiple of R below both the step's end and
// the level's final horizon; the finest level (the windows themselves) takes
// whatever is left, [ps, cA) and [cB, pe). Every level's resolution divides
// the coarser ones', so the pieces tile the step.

// level is one resolution an aggregation is stored at.
type level struct {
	res  int64  // ms: the window size, or a rollup's resolution
	name string // its name in the store: the aggregation's, or store.RollupAgg
}

// usableLevels returns the levels a query over spec with this step may read:
// the windows, and the rollups no longer than the step and maxRes (0: any).
func usableLevels(spec window.Spec, all []level, step, maxRes int64) []level {
	if spec.Kind != window.Tumbling || len(all) < 2 {
		return all[:1]
	}
	n := 1
	for n < len(all) && all[n].res <= step && (maxRes <= 0 || all[n].res <= maxRes) {
		n++
	}
	return all[:n]
}

// span is a piece of a step that one level serves: [from, to).
type span struct{ from, to int64 }

// splitter splits steps between levels for one store.
type splitter struct {
	levels  []level
	horizon []int64 // per level: rollup windows ending at or before it are final
}

// newSplitter returns the splitter of a store at stream time st, for windows
// with this grace.
func newSplitter(levels []level, st, grace int64) *splitter {
	s := &splitter{levels: levels, horizon: make([]int64, len(levels))}
	for i, l := range levels {
		if i == 0 {
			s.horizon[i] = math.MaxInt64
			continue
		}
		// A rollup window [r, r+R) is final once stream time reaches its end
		// + grace (its last window's close time).
		s.horizon[i] = math.MinInt64
		if st != math.MinInt64 && st-grace > math.MinInt64/2 {
			s.horizon[i] = floorDiv(st-grace, l.res) * l.res
		}
	}
	return s
}

// split calls fn with each level's pieces of the step [ps, pe), coarsest
// level first; a level gets at most two pieces. Empty pieces are left out.
func (s *splitter) split(ps, pe int64, fn func(lvl int, sp span)) {
	covered := false
	var cA, cB int64
	for i := len(s.levels) - 1; i >= 0; i-- {
		var a, b int64
		if i == 0 {
			a, b = ps, pe
		} else {
			r := s.levels[i].res
			a = ceilDiv(ps, r) * r
			b = min(floorDiv(pe, r)*r, s.horizon[i])
		}
		if !covered {
			if a < b {
				fn(i, span{a, b})
				covered, cA, cB = true, a, b
			}
			continue
		}
		if a < cA {
			fn(i, span{a, cA})
			cA = a
		}
		if cB < b {
			fn(i, span{cB, b})
			cB = b
		}
	}
}

// levelAt returns the level whose piece of the step [ps, pe) holds start.
func (s *splitter) levelAt(ps, pe, start int64) int {
	lvl := 0
	s.split(ps, pe, func(i int, sp span) {
		if start >= sp.from && start < sp.to {
			lvl = i
		}
	})
	return lvl
}

func ceilDiv(a, m int64) int64 {
	q := floorDiv(a, m)
	if floorMod(a, m) != 0 {
		q++
	}
	return q
}
