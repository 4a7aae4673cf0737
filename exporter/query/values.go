package query

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kwindow/kwindow/exporter/store"
)

// ValuesQuery asks for the distinct values of one dimension of an aggregation,
// for query editors and template variables.
type ValuesQuery struct {
	Aggregation string
	Dimension   string
	Prefix      string    // only values starting with it
	Filters     []Matcher // on the other dimensions (or this one)
	// Limit bounds the values returned; 0 is Limits.MaxKeys, more is an error.
	Limit int
}

// ValuesResult is the answer to a ValuesQuery. Values are those of the keys the
// stores hold: keys with windows within retention, or a running total.
type ValuesResult struct {
	Values     []string // ascending, at most the limit
	Truncated  bool     // more values matched than the limit
	Partitions []int32
	limit      int
}

// Values answers q from the stores of srcs.
func (l *Local) Values(ctx context.Context, srcs []Source, q ValuesQuery) (*ValuesResult, error) {
	a, err := l.aggregation(q.Aggregation)
	if err != nil {
		return nil, err
	}
	d, err := a.dim("dimension", q.Dimension)
	if err != nil {
		return nil, err
	}
	f, err := compileFilter(a, "filters", q.Filters)
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	switch {
	case limit < 0:
		return nil, badQuery("limit", "must be >= 0 (0: max_keys), got %d", limit)
	case limit == 0:
		limit = l.limits.MaxKeys
	case limit > l.limits.MaxKeys:
		return nil, &LimitError{Limit: limitKeys, Max: l.limits.MaxKeys, Need: limit}
	}
	seen := map[string]struct{}{}
	r := &ValuesResult{Partitions: partitions(srcs), limit: limit}
	for _, src := range srcs {
		cc := canceled{ctx: ctx}
		var ferr error
		err := scanGroups(src, a, func(group []byte) bool {
			if cc.check() {
				return false
			}
			vals, err := store.SplitGroup(group)
			if err != nil {
				ferr = fmt.Errorf("query: stored group %x: %w", group, err)
				return false
			}
			if len(vals) != len(a.groupBy) || !strings.HasPrefix(string(vals[d]), q.Prefix) || !f.match(vals) {
				return true
			}
			if _, ok := seen[string(vals[d])]; !ok {
				seen[string(vals[d])] = struct{}{}
			}
			return true
		})
		switch {
		case err != nil:
			return nil, fmt.Errorf("query: reading partition %d: %w", src.Partition, err)
		case cc.err != nil:
			return nil, cc.err
		case ferr != nil:
			return nil, ferr
		}
	}
	r.Values = make([]string, 0, len(seen))
	for v := range seen {
		r.Values = append(r.Values, v)
	}
	r.cut()
	return r, nil
}

// cut sorts the values and keeps the first limit.
func (r *ValuesResult) cut() {
	slices.Sort(r.Values)
	r.Values = slices.Compact(r.Values)
	if len(r.Values) > r.limit {
		r.Values, r.Truncated = r.Values[:r.limit], true
	}
}

// Merge adds o, the answer to the same query from other partitions, to r. The
// result is the first values of the union, as if one store held them all.
func (r *ValuesResult) Merge(o *ValuesResult) error {
	if err := disjoint(r.Partitions, o.Partitions); err != nil {
		return err
	}
	r.Values = append(r.Values, o.Values...)
	r.Truncated = r.Truncated || o.Truncated
	r.limit = max(r.limit, o.limit)
	r.Partitions = mergePartitions(r.Partitions, o.Partitions)
	r.cut()
	return nil
}
