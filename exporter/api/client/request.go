package client

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// RangeRequest is a range query: /api/v1/query_range.
type RangeRequest struct {
	Aggregation string
	Match       []Matcher // all must match
	// GroupBy is the dimensions that make a series. nil leaves the parameter
	// out: one series per key of the aggregation (its whole group_by). An empty,
	// non-nil slice sends group_by= : every key merged into one series.
	GroupBy []string
	// Measures: count, rate, client_errors, server_errors, errors,
	// error_ratio, client_error_ratio, sum, min, max, avg, pNN, qX. Default
	// count.
	Measures []string
	// From and To bound the window starts, [From, To). Zero To is now; zero
	// From is an hour before To.
	From, To time.Time
	// Step is the width of a point; 0 is the window's own step (its size, a
	// hopping window's advance, a session's gap).
	Step time.Duration
	// MaxResolution bounds the rollups read: 0 lets the server take the
	// coarsest that fit the step; the window size reads windows only. The
	// answer is the same, only its cost differs.
	MaxResolution time.Duration
	// Stale reads partitions still restoring (the answer's Stale says how far
	// behind) instead of failing with unavailable.
	Stale bool
}

func (r RangeRequest) query() url.Values {
	q := url.Values{}
	q.Set("aggregation", r.Aggregation)
	addMatch(q, r.Match)
	if r.GroupBy != nil {
		q.Set("group_by", strings.Join(r.GroupBy, ","))
	}
	q["measure"] = r.Measures
	addTime(q, "from", r.From)
	addTime(q, "to", r.To)
	if r.Step != 0 {
		q.Set("step", r.Step.String())
	}
	if r.MaxResolution != 0 {
		q.Set("max_resolution", r.MaxResolution.String())
	}
	addBool(q, "stale", r.Stale)
	return q
}

// LatestRequest asks for the latest windows of every key: /api/v1/latest.
type LatestRequest struct {
	Aggregation string
	Match       []Matcher
	Measures    []string // as RangeRequest's
	// Since bounds the window starts read from below; zero reads every window
	// retained. A live panel gives a few windows before now.
	Since time.Time
	Stale bool
}

func (r LatestRequest) query() url.Values {
	q := url.Values{}
	q.Set("aggregation", r.Aggregation)
	addMatch(q, r.Match)
	q["measure"] = r.Measures
	addTime(q, "since", r.Since)
	addBool(q, "stale", r.Stale)
	return q
}

// TopKRequest asks for the K keys with the largest value of a measure over a
// time range: /api/v1/topk.
type TopKRequest struct {
	Aggregation string
	Match       []Matcher
	GroupBy     []string // the dimensions that make a key; nil or empty: the whole group_by
	Measure     string   // default count
	K           int      // default 10; at most api.max_keys
	Bottom      bool     // the K smallest instead
	From, To    time.Time
	Stale       bool
}

func (r TopKRequest) query() url.Values {
	q := url.Values{}
	q.Set("aggregation", r.Aggregation)
	addMatch(q, r.Match)
	if len(r.GroupBy) > 0 {
		q.Set("group_by", strings.Join(r.GroupBy, ","))
	}
	if r.Measure != "" {
		q.Set("measure", r.Measure)
	}
	if r.K != 0 {
		q.Set("k", strconv.Itoa(r.K))
	}
	addBool(q, "bottom", r.Bottom)
	addTime(q, "from", r.From)
	addTime(q, "to", r.To)
	addBool(q, "stale", r.Stale)
	return q
}

// ValuesRequest asks for the distinct values of one dimension: /api/v1/values.
type ValuesRequest struct {
	Aggregation string
	Dimension   string
	Prefix      string    // only values starting with it
	Match       []Matcher // on any dimension
	Limit       int       // 0: api.max_keys
	Stale       bool
}

func (r ValuesRequest) query() url.Values {
	q := url.Values{}
	q.Set("aggregation", r.Aggregation)
	q.Set("dimension", r.Dimension)
	if r.Prefix != "" {
		q.Set("prefix", r.Prefix)
	}
	addMatch(q, r.Match)
	if r.Limit != 0 {
		q.Set("limit", strconv.Itoa(r.Limit))
	}
	addBool(q, "stale", r.Stale)
	return q
}

// StreamRequest subscribes to the committed window updates of an aggregation:
// /api/v1/stream.
type StreamRequest struct {
	Aggregation string
	Match       []Matcher
	Measures    []string // the values of each update; default count
}

func (r StreamRequest) query() url.Values {
	q := url.Values{}
	q.Set("aggregation", r.Aggregation)
	addMatch(q, r.Match)
	q["measure"] = r.Measures
	return q
}

func addMatch(q url.Values, ms []Matcher) {
	for _, m := range ms {
		q.Add("match[]", m.String())
	}
}

func addTime(q url.Values, name string, t time.Time) {
	if !t.IsZero() {
		q.Set(name, TimestampOf(t).String())
	}
}

func addBool(q url.Values, name string, b bool) {
	if b {
		q.Set(name, "true")
	}
}
