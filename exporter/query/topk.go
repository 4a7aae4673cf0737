package query

import (
	"context"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
)

// TopKQuery asks for the K keys with the largest (or smallest) value of a
// measure over a time range: "slowest endpoints".
type TopKQuery struct {
	Aggregation string
	Filters     []Matcher
	// GroupBy is the dimensions that make a key; empty is the aggregation's
	// whole group_by.
	GroupBy  []string
	From, To int64 // window starts, [From, To), unix ms
	Measure  Measure
	K        int  // 1 to Limits.MaxKeys
	Bottom   bool // the K smallest instead
}

// TopKResult is the answer to a TopKQuery.
//
// A key of the aggregation's whole group_by lives in one store, so each answer
// holds its own best K and merging answers then cutting to K is exact. Under a
// smaller group-by a key's windows are spread over stores: every answer then
// holds all its keys (up to max_keys), uncut, and only the merged answer is
// cut (Cut).
type TopKResult struct {
	Aggregation string
	GroupBy     []string
	From, To    int64
	Measure     Measure
	K           int
	Bottom      bool
	Entries     []TopKEntry // best first; keys whose value is NaN last
	Partitions  []int32
	StreamTime  int64 // as in RangeResult
	FinalAt     int64 // as Point.FinalAt, for the whole range
	// Uncut: Entries hold every key, because the group-by spreads keys over
	// stores; call Cut after the last Merge.
	Uncut bool
	span  int64
}

// TopKEntry is one key over the whole range.
type TopKEntry struct {
	Key     []string
	Value   float64
	Agg     *aggregate.Aggregate
	Windows int
	Open    int
	// Complete: no window of it is open, and no store read can add one.
	Complete bool
}

// TopK answers q from the stores of srcs.
func (l *Local) TopK(ctx context.Context, srcs []Source, q TopKQuery) (*TopKResult, error) {
	a, err := l.aggregation(q.Aggregation)
	if err != nil {
		return nil, err
	}
	if q.K <= 0 {
		return nil, badQuery("k", "must be > 0, got %d", q.K)
	}
	if q.K > l.limits.MaxKeys {
		return nil, &LimitError{Limit: limitKeys, Max: l.limits.MaxKeys, Need: q.K}
	}
	by := q.GroupBy
	if len(by) == 0 {
		by = a.groupBy
	}
	if q.To > q.From && q.To <= maxStart && uint64(q.To)-uint64(q.From) > math.MaxInt64 {
		return nil, badQuery("from", "the range [%d, %d) is too long", q.From, q.To)
	}
	rq := RangeQuery{Aggregation: q.Aggregation, Filters: q.Filters, GroupBy: by, From: q.From, To: q.To,
		Step: q.To - q.From, Measures: []Measure{q.Measure}}
	p, err := l.planRange(&rq)
	if err != nil {
		if qe, ok := err.(*QueryError); ok && qe.Param == "measures[0]" {
			qe.Param = "measure"
		}
		return nil, err
	}
	acc, err := l.readAll(ctx, p, srcs)
	if err != nil {
		return nil, err
	}
	rr := acc.result(slices.Clone(by))
	r := &TopKResult{
		Aggregation: a.name, GroupBy: rr.GroupBy, From: q.From, To: q.To, Measure: q.Measure, K: q.K, Bottom: q.Bottom,
		Partitions: partitions(srcs), StreamTime: minStreamTime(srcs), FinalAt: p.steps.finalAt(q.From, q.To),
		Uncut: !slices.Equal(by, a.groupBy), span: p.steps.span(q.From, q.To),
	}
	for _, s := range rr.Series {
		pt := s.Points[0]
		r.Entries = append(r.Entries, TopKEntry{Key: s.Key, Agg: pt.Agg, Windows: pt.Windows, Open: pt.Open})
	}
	r.settle()
	if !r.Uncut {
		r.Cut()
	}
	return r, nil
}

// settle computes values and completeness, and sorts the entries.
func (r *TopKResult) settle() {
	for i := range r.Entries {
		e := &r.Entries[i]
		e.Value = r.Measure.Eval(e.Agg, r.span)
		e.Complete = e.Open == 0 && r.StreamTime >= r.FinalAt
	}
	slices.SortStableFunc(r.Entries, func(x, y TopKEntry) int {
		xn, yn := math.IsNaN(x.Value), math.IsNaN(y.Value)
		switch {
		case xn || yn:
			return cmpBool(xn, yn)
		case x.Value != y.Value:
			if r.Bottom == (x.Value < y.Value) {
				return -1
			}
			return 1
		}
		return slices.Compare(x.Key, y.Key)
	})
}

// Cut keeps the best K entries.
func (r *TopKResult) Cut() {
	if len(r.Entries) > r.K {
		r.Entries = r.Entries[:r.K]
	}
	r.Uncut = false
}

// Merge adds o, the answer to the same query from other partitions, to r,
// merging the aggregates of keys both hold. An answer merged from cut answers
// is cut again to K; one from uncut answers stays uncut until Cut.
func (r *TopKResult) Merge(o *TopKResult, lim Limits) error {
	if err := disjoint(r.Partitions, o.Partitions); err != nil {
		return err
	}
	byKey := map[string]int{}
	for i, e := range r.Entries {
		byKey[joinKey(e.Key)] = i
	}
	for _, e := range o.Entries {
		if i, ok := byKey[joinKey(e.Key)]; ok {
			x := &r.Entries[i]
			x.Agg.Merge(e.Agg)
			x.Windows += e.Windows
			x.Open += e.Open
			continue
		}
		if lim.MaxKeys > 0 && len(r.Entries) >= lim.MaxKeys {
			return &LimitError{Limit: limitKeys, Max: lim.MaxKeys, Need: len(r.Entries) + 1}
		}
		e.Agg = cloneAgg(e.Agg)
		r.Entries = append(r.Entries, e)
	}
	r.Partitions = mergePartitions(r.Partitions, o.Partitions)
	r.StreamTime = min(r.StreamTime, o.StreamTime)
	uncut := r.Uncut || o.Uncut
	r.settle()
	if !uncut {
		r.Cut()
	}
	return nil
}

// joinKey encodes a key unambiguously, for maps.
func joinKey(k []string) string {
	var b []byte
	for _, v := range k {
		b = store.AppendGroup(b, []byte(v))
	}
	return string(b)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
