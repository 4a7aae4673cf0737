// Package satint is int64 arithmetic that saturates at the ends of the range
// instead of wrapping: event times near MaxInt64 or MinInt64 (absurd, but an input
// can hold them) must give "the end of time", never a time in the past.
package satint

import "math"

// Add is a + b, saturated to [MinInt64, MaxInt64].
func Add(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// Sub is a - b, saturated to [MinInt64, MaxInt64].
func Sub(a, b int64) int64 {
	s := a - b
	switch {
	case b > 0 && s > a:
		return math.MinInt64
	case b < 0 && s < a:
		return math.MaxInt64
	}
	return s
}
