// Package aggregate is the value kwindow keeps per window and key: counts, error
// counts, sum/min/max of the event value and its latency sketch. Aggregates merge
// exactly (a 1h aggregate from sixty 1m aggregates is the 1h aggregate), and encode
// compactly for the state store and the changelog.
package aggregate

import (
	"math"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// Aggregate holds the measures of one window of one key.
type Aggregate struct {
	Count        uint64  // events
	ClientErrors uint64  // events whose status is a client error (4xx by default)
	ServerErrors uint64  // events whose status is a server error (5xx by default)
	Values       uint64  // events that carried a value; Sum, Min and Max are over these
	Sum          float64 // of values
	Min, Max     float64 // of values; +Inf and -Inf while Values is 0
	// Sketch is the distribution of the values, nil when the aggregation computes
	// no quantiles.
	Sketch *sketch.Sketch
}

// New returns an empty aggregate; schema is the sketch's, and withSketch says
// whether to keep one.
func New(schema int32, withSketch bool) *Aggregate {
	if !withSketch {
		return &Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}
	}
	return new(Storage).New(schema, true)
}

// Storage holds an aggregate and its sketch side by side, for a caller that
// allocates them inside a value of its own. With many keys every event's
// aggregate is a cache miss; a sketch allocated apart was one more.
type Storage struct {
	agg    Aggregate
	sketch sketch.Sketch
}

// New makes the storage an empty aggregate, as New does, and returns it. The
// aggregate keeps the storage alive.
func (st *Storage) New(schema int32, withSketch bool) *Aggregate {
	st.agg = Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}
	if withSketch {
		st.sketch = sketch.Make(schema)
		st.agg.Sketch = &st.sketch
	}
	return &st.agg
}

// Add counts one event.
func (a *Aggregate) Add(ev *event.Event) {
	a.Count++
	switch ev.Class {
	case event.ClientError:
		a.ClientErrors++
	case event.ServerError:
		a.ServerErrors++
	}
	if !ev.HasValue {
		return
	}
	v := ev.Value
	a.Values++
	a.Sum += v
	a.Min = min(a.Min, v)
	a.Max = max(a.Max, v)
	if a.Sketch != nil {
		a.Sketch.Add(v)
	}
}

// Merge adds o's events to a. Sketches of different schemas merge at the lower one.
func (a *Aggregate) Merge(o *Aggregate) {
	a.Count += o.Count
	a.ClientErrors += o.ClientErrors
	a.ServerErrors += o.ServerErrors
	a.Values += o.Values
	a.Sum += o.Sum
	a.Min = min(a.Min, o.Min)
	a.Max = max(a.Max, o.Max)
	switch {
	case o.Sketch == nil:
	case a.Sketch == nil:
		a.Sketch = o.Sketch.Clone()
	default:
		a.Sketch.Merge(o.Sketch)
	}
}

// Clone returns a deep copy.
func (a *Aggregate) Clone() *Aggregate {
	c := *a
	if a.Sketch != nil {
		c.Sketch = a.Sketch.Clone()
	}
	return &c
}

// ErrorRatio is the share of server errors (5xx), the ratio SLOs are usually set on;
// NaN for an empty aggregate.
func (a *Aggregate) ErrorRatio() float64 { return ratio(a.ServerErrors, a.Count) }

// ClientErrorRatio is the share of client errors (4xx); NaN for an empty aggregate.
func (a *Aggregate) ClientErrorRatio() float64 { return ratio(a.ClientErrors, a.Count) }

// Mean is the mean value; NaN when no event carried one.
func (a *Aggregate) Mean() float64 { return ratio2(a.Sum, a.Values) }

// Quantile is the q-quantile of the values from the sketch, within the sketch's
// relative error; NaN without a sketch or values.
func (a *Aggregate) Quantile(q float64) float64 {
	if a.Sketch == nil {
		return math.NaN()
	}
	return a.Sketch.Quantile(q)
}

func ratio(n, d uint64) float64 { return ratio2(float64(n), d) }

func ratio2(n float64, d uint64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return n / float64(d)
}
