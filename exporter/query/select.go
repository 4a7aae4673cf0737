package query

// Selector is the keys of one aggregation that a set of matchers selects: what
// the query API routes by (the one owner of a key the matchers pin) and what a
// live subscription filters with. Build one with Local.Select.
type Selector struct {
	a *aggInfo
	f *filter
}

// Select compiles matchers and measures of a query over aggregation as Range
// checks them (errors are *QueryError naming "aggregation", "filters[i]" or
// "measures[i]").
func (l *Local) Select(aggregation string, ms []Matcher, measures []Measure) (*Selector, error) {
	a, err := l.aggregation(aggregation)
	if err != nil {
		return nil, err
	}
	f, err := compileFilter(a, "filters", ms)
	if err != nil {
		return nil, err
	}
	if _, err := compileMeasures(a, "measures", measures); err != nil {
		return nil, err
	}
	return &Selector{a: a, f: f}, nil
}

// Exact returns the encoded group key (store.AppendGroup of the group_by values)
// when the matchers pin every dimension with =: the query needs only that
// key's owner.
func (s *Selector) Exact() (group []byte, ok bool) { return s.f.exact, s.f.isExact }

// Match reports whether the key with these dimension values (in group_by
// order, as store.SplitGroup returns them) is selected.
func (s *Selector) Match(vals [][]byte) bool {
	return len(vals) == len(s.a.groupBy) && s.f.match(vals)
}

// GroupBy is the aggregation's dimensions, in key order.
func (s *Selector) GroupBy() []string { return s.a.groupBy }
