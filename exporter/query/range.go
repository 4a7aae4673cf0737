package query

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// RangeQuery asks for the windows of an aggregation over a time range, in steps.
type RangeQuery struct {
	Aggregation string
	// Filters select keys by their dimension values; all must match.
	Filters []Matcher
	// GroupBy is the subset of the aggregation's group_by the answer keeps, one
	// series per distinct combination; empty merges every key into one series.
	GroupBy []string
	// From and To bound the window starts read, [From, To), unix ms. A window
	// belongs to the step its start falls in.
	From, To int64
	// Step is the width of a point in ms; 0 is the window's own step (the size,
	// the advance of hopping windows, the gap of sessions). See selectMode for
	// how the windows of a step are combined.
	Step int64
	// Measures the caller will evaluate (Point.Value); they are checked against
	// the aggregation, and points carry sketches only if one is a quantile.
	Measures []Measure
	// MaxResolution bounds the rollups read, in ms: 0 reads the coarsest that
	// fit the step (see resolution.go); the window size reads only windows.
	// Answers are the same either way, only slower.
	MaxResolution int64
}

// RangeResult is the answer to a RangeQuery, from some stores. Answers over
// disjoint sets of partitions merge with Merge.
type RangeResult struct {
	Aggregation    string
	GroupBy        []string
	From, To, Step int64
	Sketches       bool     // points carry sketches
	Partitions     []int32  // the stores read, ascending
	Series         []Series // ascending by Key
	// StreamTime is the least stream time of the stores read: a point whose
	// FinalAt it has reached can gain or change no window in any of them.
	StreamTime int64
}

// Series is the points of one group-by key.
type Series struct {
	Key    []string // values of RangeResult.GroupBy, in its order
	Points []Point  // ascending by Start; steps without windows are left out
}

// Point is the merged windows that start in one step.
type Point struct {
	Start, End int64 // the step, [Start, End)
	// Span is the time in ms its windows cover (the step, or the window size
	// for a single hopping or sliding window): what Rate divides by.
	Span int64
	Agg  *aggregate.Aggregate
	// Windows is how many (key, window) pairs were merged, Open how many of
	// them were still open (their result may still change).
	Windows, Open int
	// FinalAt is the stream time from which no window starting in the step
	// can change (the close time of the last one that can start in it).
	FinalAt int64
	// Complete: no window of it is open, and every store read has reached
	// FinalAt, so none can add one.
	Complete bool
	// Resolution is the coarsest resolution (ms) of what it merged: the
	// window size (0 for sessions), or that of a rollup (an aggregation's rollups, which merge
	// its windows exactly, serve the steps they fit; finer windows fill the
	// step's edges). Windows counts a rollup window as one.
	Resolution int64
}

// Value evaluates m on the point.
func (p *Point) Value(m Measure) float64 { return m.Eval(p.Agg, p.Span) }

// rangePlan is a checked RangeQuery.
type rangePlan struct {
	a      *aggInfo
	filter *filter
	by     []int
	steps  *stepper
	sketch bool
	levels []level // the resolutions to read, finest first (usableLevels)
}

func (l *Local) planRange(q *RangeQuery) (*rangePlan, error) {
	a, err := l.aggregation(q.Aggregation)
	if err != nil {
		return nil, err
	}
	p := &rangePlan{a: a}
	if p.filter, err = compileFilter(a, "filters", q.Filters); err != nil {
		return nil, err
	}
	if p.by, err = compileGroupBy(a, "group_by", q.GroupBy); err != nil {
		return nil, err
	}
	if p.sketch, err = compileMeasures(a, "measures", q.Measures); err != nil {
		return nil, err
	}
	if p.steps, err = newStepper(a.spec, q.From, q.To, q.Step, l.limits.MaxPoints); err != nil {
		return nil, err
	}
	if q.MaxResolution < 0 {
		return nil, badQuery("max_resolution", "must be >= 0 (0: automatic), got %dms", q.MaxResolution)
	}
	p.levels = usableLevels(a.spec, a.levels, p.steps.step, q.MaxResolution)
	return p, nil
}

// Range answers q from the stores of srcs.
func (l *Local) Range(ctx context.Context, srcs []Source, q RangeQuery) (*RangeResult, error) {
	p, err := l.planRange(&q)
	if err != nil {
		return nil, err
	}
	acc, err := l.readAll(ctx, p, srcs)
	if err != nil {
		return nil, err
	}
	r := acc.result(slices.Clone(q.GroupBy))
	r.Partitions = partitions(srcs)
	r.StreamTime = minStreamTime(srcs)
	r.settle()
	return r, nil
}

// accumulator builds the series of a range answer while stores are read.
type accumulator struct {
	p      *rangePlan
	lim    Limits
	series map[string]*Series
	points int
	dec    windowDecoder
	// the group being read, and its series (nil: filtered out)
	group []byte
	cur   *Series
	key   []byte
	res   int64 // the resolution being read
}

func newAccumulator(p *rangePlan, lim Limits) *accumulator {
	return &accumulator{p: p, lim: lim, series: map[string]*Series{}}
}

// readAll reads the stores of srcs into one accumulator. With more than one
// store and more than one CPU it reads them concurrently, on up to GOMAXPROCS
// goroutines, each into an accumulator of its own, and merges those: an instance
// holds a store per stage-2 partition, and a query over many keys reads them
// all. The answer is the same as reading them one after the other. A query of
// one key reads them in turn: the key lives in one of them, and each of the
// others costs a seek, less than starting goroutines.
func (l *Local) readAll(ctx context.Context, p *rangePlan, srcs []Source) (*accumulator, error) {
	workers := min(len(srcs), runtime.GOMAXPROCS(0))
	if p.filter.isExact {
		workers = 1
	}
	if workers <= 1 {
		acc := newAccumulator(p, l.limits)
		for _, src := range srcs {
			if err := acc.read(ctx, src); err != nil {
				return nil, err
			}
		}
		return acc, nil
	}
	accs := make([]*accumulator, workers)
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for w := range accs {
		acc := newAccumulator(p, l.limits)
		accs[w] = acc
		g.Go(func() error {
			for i := next.Add(1) - 1; i < int64(len(srcs)); i = next.Add(1) - 1 {
				if err := acc.read(gctx, srcs[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, o := range accs[1:] {
		if err := accs[0].absorb(o); err != nil {
			return nil, err
		}
	}
	return accs[0], nil
}

// absorb merges the series of o, which read other stores, into a, taking over
// o's aggregates, within a's limits.
func (a *accumulator) absorb(o *accumulator) error {
	for k, s := range o.series {
		mine, ok := a.series[k]
		if !ok {
			if len(a.series) >= a.lim.MaxKeys {
				return &LimitError{Limit: limitKeys, Max: a.lim.MaxKeys, Need: len(a.series) + 1}
			}
			a.series[k] = s
			a.points += len(s.Points)
		} else {
			before := len(mine.Points)
			mine.Points = mergePoints(mine.Points, s.Points, false)
			a.points += len(mine.Points) - before
		}
		if a.points > a.lim.MaxPoints {
			return &LimitError{Limit: limitPoints, Max: a.lim.MaxPoints, Need: a.points}
		}
	}
	return nil
}

// read adds the windows of one store.
func (a *accumulator) read(ctx context.Context, src Source) error {
	p := a.p
	steps := p.steps
	a.group, a.cur = a.group[:0], nil
	first := true
	var err error
	cc := canceled{ctx: ctx}
	// selectLatest holds back each key's latest window of a step until the
	// next window of the key or step comes.
	var pend struct {
		ok    bool
		step  int64
		start int64
		val   []byte
	}
	flush := func() {
		if pend.ok {
			pend.ok = false
			err = a.add(src, pend.start, pend.step, pend.val)
		}
	}
	only := -1 // >= 0: scanning a level's whole range, keeping its pieces
	var sp *splitter
	visit := func(e store.Entry) bool {
		if cc.check() {
			return false
		}
		start := e.Key.Start
		if start == maxStart || !steps.selected(start) {
			return true
		}
		i := steps.index(start)
		if i < 0 {
			return true
		}
		if only >= 0 {
			// A union scan: keep the windows of this level's pieces only.
			if ps, pe := steps.bounds(i); sp.levelAt(ps, pe, start) != only {
				return true
			}
		}
		if first || !bytes.Equal(e.Key.Group, a.group) {
			first = false
			if flush(); err != nil {
				return false
			}
			if err = a.enter(e.Key.Group); err != nil {
				return false
			}
		}
		if a.cur == nil {
			return true
		}
		if steps.mode == selectLatest {
			if pend.ok && pend.step != i {
				if flush(); err != nil {
					return false
				}
			}
			pend.ok, pend.step, pend.start, pend.val = true, i, start, append(pend.val[:0], e.Value...)
			return true
		}
		err = a.add(src, start, i, e.Value)
		return err == nil
	}
	scan := func(lvl int, from, to int64) error {
		l := p.levels[lvl]
		a.res = l.res
		if lvl == 0 {
			return scanWindows(src, p.a, p.filter.isExact, p.filter.exact, from, to, visit)
		}
		if p.filter.isExact {
			return src.Store.Range(l.name, p.filter.exact, from, to, visit)
		}
		return src.Store.Windows(l.name, from, to, visit)
	}
	var serr error
	if len(p.levels) == 1 {
		serr = scan(0, steps.from, steps.to)
	} else {
		sp = newSplitter(p.levels, src.StreamTime, p.a.spec.Grace)
		serr = a.scanLevels(sp, &only, scan)
	}
	if err == nil && serr == nil {
		flush()
	}
	switch {
	case serr != nil:
		return fmt.Errorf("query: reading partition %d: %w", src.Partition, serr)
	case cc.err != nil:
		return cc.err
	}
	return err
}

// maxScansPerLevel bounds the scans of one level's pieces: past it, the level
// is read in one scan over all its pieces' range, which keeps the windows of
// its pieces only. (Steps off the rollups' boundaries give each step pieces of
// its own.)
var maxScansPerLevel = 64 // a variable for tests

// scanLevels reads each level's pieces of every step, coarsest level first.
func (a *accumulator) scanLevels(sp *splitter, only *int, scan func(lvl int, from, to int64) error) error {
	steps := a.p.steps
	pieces := make([][]span, len(a.p.levels))
	tooMany := make([]bool, len(a.p.levels))
	for i := range steps.n {
		ps, pe := steps.bounds(i)
		sp.split(ps, pe, func(lvl int, s span) {
			if tooMany[lvl] {
				ps := pieces[lvl]
				ps[0].from, ps[0].to = min(ps[0].from, s.from), max(ps[0].to, s.to)
				return
			}
			ps := pieces[lvl]
			if n := len(ps); n > 0 && ps[n-1].to == s.from {
				ps[n-1].to = s.to // contiguous: one scan
				return
			}
			pieces[lvl] = append(ps, s)
			if len(pieces[lvl]) > maxScansPerLevel {
				tooMany[lvl] = true
				lo, hi := pieces[lvl][0].from, pieces[lvl][0].to
				for _, x := range pieces[lvl] {
					lo, hi = min(lo, x.from), max(hi, x.to)
				}
				pieces[lvl] = append(pieces[lvl][:0], span{lo, hi})
			}
		})
	}
	for lvl := len(pieces) - 1; lvl >= 0; lvl-- {
		*only = -1
		if tooMany[lvl] {
			*only = lvl
		}
		for _, s := range pieces[lvl] {
			if err := scan(lvl, s.from, s.to); err != nil {
				return err
			}
		}
	}
	*only = -1
	return nil
}

// enter starts reading group: it finds or creates the group's series, or sets
// a.cur to nil when the filter rejects it.
func (a *accumulator) enter(group []byte) error {
	a.group = append(a.group[:0], group...)
	a.cur = nil
	vals, err := store.SplitGroup(group)
	if err != nil {
		return fmt.Errorf("query: stored group %x: %w", group, err)
	}
	if len(vals) != len(a.p.a.groupBy) || !a.p.filter.match(vals) {
		return nil
	}
	a.key = project(a.key[:0], vals, a.p.by)
	s, ok := a.series[string(a.key)]
	if !ok {
		if len(a.series) >= a.lim.MaxKeys {
			return &LimitError{Limit: limitKeys, Max: a.lim.MaxKeys, Need: len(a.series) + 1}
		}
		s = &Series{Key: keyStrings(a.key)}
		a.series[string(a.key)] = s
	}
	a.cur = s
	return nil
}

// add merges the window of the current group at start, in step i, into its point.
func (a *accumulator) add(src Source, start, i int64, value []byte) error {
	end, _, agg, sk, err := a.dec.decode(value, a.p.sketch)
	if err != nil {
		return fmt.Errorf("query: partition %d, window %d: %w", src.Partition, start, err)
	}
	open := !a.p.a.spec.Closed(window.Window{Start: start, End: end}, src.StreamTime)
	pt, err := a.point(a.cur, i)
	if err != nil {
		return err
	}
	if err := a.dec.mergeWindow(&pt.Agg, agg, sk); err != nil {
		return fmt.Errorf("query: partition %d, window %d: %w", src.Partition, start, err)
	}
	pt.Windows++
	if open {
		pt.Open++
	}
	pt.Resolution = max(pt.Resolution, a.res)
	return nil
}

// point finds or inserts the point of step i in s.
func (a *accumulator) point(s *Series, i int64) (*Point, error) {
	start, end := a.p.steps.bounds(i)
	n := len(s.Points)
	if n > 0 && s.Points[n-1].Start == start {
		return &s.Points[n-1], nil
	}
	j := n
	if n > 0 && s.Points[n-1].Start > start {
		var found bool
		j, found = slices.BinarySearchFunc(s.Points, start, func(p Point, t int64) int { return cmpInt(p.Start, t) })
		if found {
			return &s.Points[j], nil
		}
	}
	if a.points >= a.lim.MaxPoints {
		return nil, &LimitError{Limit: limitPoints, Max: a.lim.MaxPoints, Need: a.points + 1}
	}
	a.points++
	s.Points = slices.Insert(s.Points, j, Point{Start: start, End: end, Span: a.p.steps.span(start, end), FinalAt: a.p.steps.finalAt(start, end)})
	return &s.Points[j], nil
}

func (a *accumulator) result(groupBy []string) *RangeResult {
	st := a.p.steps
	r := &RangeResult{
		Aggregation: a.p.a.name, GroupBy: groupBy, From: st.from, To: st.to, Step: st.step,
		Sketches: a.p.sketch,
	}
	r.Series = make([]Series, 0, len(a.series))
	for _, s := range a.series {
		r.Series = append(r.Series, *s)
	}
	slices.SortFunc(r.Series, func(x, y Series) int { return slices.Compare(x.Key, y.Key) })
	return r
}

// settle sets each point's Complete from its open windows and StreamTime.
func (r *RangeResult) settle() {
	for i := range r.Series {
		for j := range r.Series[i].Points {
			p := &r.Series[i].Points[j]
			p.Complete = p.Open == 0 && r.StreamTime >= p.FinalAt
		}
	}
}

// Merge adds o, the answer to the same query from other partitions, to r. It
// refuses answers to different queries, and answers that read a partition
// twice (its windows would count twice). lim bounds the merged answer.
func (r *RangeResult) Merge(o *RangeResult, lim Limits) error {
	if r.Aggregation != o.Aggregation || r.From != o.From || r.To != o.To || r.Step != o.Step ||
		!slices.Equal(r.GroupBy, o.GroupBy) || r.Sketches != o.Sketches {
		return fmt.Errorf("query: merging answers to different queries (%s %v [%d,%d) step %d and %s %v [%d,%d) step %d)",
			r.Aggregation, r.GroupBy, r.From, r.To, r.Step, o.Aggregation, o.GroupBy, o.From, o.To, o.Step)
	}
	if err := disjoint(r.Partitions, o.Partitions); err != nil {
		return err
	}
	byKey := make(map[string]int, len(r.Series))
	points := 0
	for i, s := range r.Series {
		byKey[joinKey(s.Key)] = i
		points += len(s.Points)
	}
	for _, s := range o.Series {
		i, ok := byKey[joinKey(s.Key)]
		if !ok {
			if len(r.Series) >= lim.MaxKeys && lim.MaxKeys > 0 {
				return &LimitError{Limit: limitKeys, Max: lim.MaxKeys, Need: len(r.Series) + 1}
			}
			r.Series = append(r.Series, Series{Key: s.Key})
			i = len(r.Series) - 1
		}
		before := len(r.Series[i].Points)
		r.Series[i].Points = mergePoints(r.Series[i].Points, s.Points, true)
		if points += len(r.Series[i].Points) - before; lim.MaxPoints > 0 && points > lim.MaxPoints {
			return &LimitError{Limit: limitPoints, Max: lim.MaxPoints, Need: points}
		}
	}
	slices.SortFunc(r.Series, func(x, y Series) int { return slices.Compare(x.Key, y.Key) })
	r.Partitions = mergePartitions(r.Partitions, o.Partitions)
	r.StreamTime = min(r.StreamTime, o.StreamTime)
	r.settle()
	return nil
}

// mergePoints merges two point lists ascending by Start; the aggregates of a
// are modified, those of b cloned if cloneB (else a takes them over).
func mergePoints(a, b []Point, cloneB bool) []Point {
	out := make([]Point, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].Start < b[j].Start):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Start < a[i].Start:
			p := b[j]
			if cloneB {
				p.Agg = cloneAgg(p.Agg)
			}
			out = append(out, p)
			j++
		default:
			p := a[i]
			if p.Agg == nil {
				p.Agg = b[j].Agg
				if cloneB {
					p.Agg = cloneAgg(p.Agg)
				}
			} else if b[j].Agg != nil {
				p.Agg.Merge(b[j].Agg)
			}
			p.Windows += b[j].Windows
			p.Open += b[j].Open
			p.Resolution = max(p.Resolution, b[j].Resolution)
			out = append(out, p)
			i++
			j++
		}
	}
	return out
}

func cloneAgg(a *aggregate.Aggregate) *aggregate.Aggregate {
	if a == nil {
		return nil
	}
	return a.Clone()
}

func disjoint(a, b []int32) error {
	for _, p := range a {
		if slices.Contains(b, p) {
			return fmt.Errorf("query: both answers read partition %d: merging would count its windows twice", p)
		}
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
