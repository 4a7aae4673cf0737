package query

import (
	"errors"
	"fmt"
)

// ErrBadQuery is wrapped by every *QueryError: a query that cannot be answered
// as asked (the HTTP layer answers 400).
var ErrBadQuery = errors.New("query: bad query")

// ErrLimit is wrapped by every *LimitError: an answer that would exceed a
// configured limit (the HTTP layer answers 422).
var ErrLimit = errors.New("query: limit exceeded")

// QueryError says which parameter of a query is wrong and why.
type QueryError struct {
	Param string // the query field, as the API names it: "aggregation", "filters[1]", "step"
	Msg   string
}

func (e *QueryError) Error() string { return fmt.Sprintf("query: %s: %s", e.Param, e.Msg) }

// Unwrap makes errors.Is(err, ErrBadQuery) true.
func (e *QueryError) Unwrap() error { return ErrBadQuery }

func badQuery(param, format string, args ...any) error {
	return &QueryError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// LimitError says which limit an answer would exceed.
type LimitError struct {
	Limit string // "max_points" or "max_keys", as configured
	Max   int    // the configured limit
	// Need is at least how many the answer needs: the count when it went past
	// Max, which is a lower bound of the final one.
	Need int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("query: the answer needs at least %d %s, more than %s = %d: narrow the time range, raise the step or filter",
		e.Need, limitUnit[e.Limit], e.Limit, e.Max)
}

var limitUnit = map[string]string{limitPoints: "points", limitKeys: "keys"}

// Unwrap makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Unwrap() error { return ErrLimit }

const (
	limitPoints = "max_points"
	limitKeys   = "max_keys"
)
