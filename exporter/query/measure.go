package query

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/kwindow/kwindow/exporter/aggregate"
)

// Measure is a number computed from a merged aggregate. Parse one with
// ParseMeasure; its String is the name ParseMeasure reads.
type Measure struct {
	Kind MeasureKind
	Q    float64 // the quantile in [0, 1], for Quantile
}

// MeasureKind is what a Measure computes.
type MeasureKind uint8

// The measures. Ratios and Avg are NaN over no events (no values for Avg).
const (
	Count            MeasureKind = iota + 1 // events
	Rate                                    // events per second of the point's span
	ClientErrors                            // events with a client-error status (4xx)
	ServerErrors                            // events with a server-error status (5xx)
	Errors                                  // client and server errors
	ErrorRatio                              // server errors / events, the SLO ratio
	ClientErrorRatio                        // client errors / events
	Sum                                     // of values
	Min                                     // of values
	Max                                     // of values
	Avg                                     // sum / values
	Quantile                                // the Q-quantile of values, from the sketch
)

var measureNames = map[string]MeasureKind{
	"count": Count, "rate": Rate, "client_errors": ClientErrors, "server_errors": ServerErrors,
	"errors": Errors, "error_ratio": ErrorRatio, "client_error_ratio": ClientErrorRatio,
	"sum": Sum, "min": Min, "max": Max, "avg": Avg,
}

// ParseMeasure reads a measure name: count, rate, client_errors, server_errors,
// errors, error_ratio (server errors), client_error_ratio, sum, min, max, avg, or
// a quantile as pNN (p50, p99, p99.9: a percentile) or qX (q0.999: a quantile).
func ParseMeasure(s string) (Measure, error) {
	if k, ok := measureNames[s]; ok {
		return Measure{Kind: k}, nil
	}
	var q float64
	var err error
	switch {
	case strings.HasPrefix(s, "p") && len(s) > 1:
		q, err = strconv.ParseFloat(s[1:], 64)
		q /= 100
	case strings.HasPrefix(s, "q") && len(s) > 1:
		q, err = strconv.ParseFloat(s[1:], 64)
	default:
		return Measure{}, fmt.Errorf("unknown measure %q (want count, rate, client_errors, server_errors, errors, error_ratio, client_error_ratio, sum, min, max, avg, pNN or qX)", s)
	}
	if err != nil || !(q >= 0 && q <= 1) {
		return Measure{}, fmt.Errorf("measure %q: the quantile must be a number in [0, 1] (p0 to p100)", s)
	}
	return Measure{Kind: Quantile, Q: q}, nil
}

func (m Measure) String() string {
	if m.Kind == Quantile {
		return "q" + strconv.FormatFloat(m.Q, 'g', -1, 64)
	}
	for n, k := range measureNames {
		if k == m.Kind {
			return n
		}
	}
	return fmt.Sprintf("Measure(%d)", m.Kind)
}

// needsSketch reports whether m reads the sketch.
func (m Measure) needsSketch() bool { return m.Kind == Quantile }

// check says why aggregation a cannot answer m, as a *QueryError for param.
func (m Measure) check(a *aggInfo, param string) error {
	switch m.Kind {
	case Count, Rate:
		return nil
	case ClientErrors, ServerErrors, Errors, ErrorRatio, ClientErrorRatio:
		if !a.errors {
			return badQuery(param, "%s needs a status field (events.status), which the configuration has not", m)
		}
	case Sum, Min, Max, Avg:
		if !a.values {
			return badQuery(param, "%s: aggregation %s keeps no value statistics (give it sum, min, max or quantiles)", m, a.name)
		}
	case Quantile:
		if !a.sketch {
			return badQuery(param, "%s: aggregation %s keeps no sketch (give it quantiles)", m, a.name)
		}
	default:
		return badQuery(param, "unknown measure %d", m.Kind)
	}
	return nil
}

// compileMeasures checks ms and reports whether any reads the sketch.
func compileMeasures(a *aggInfo, param string, ms []Measure) (sketch bool, err error) {
	for i, m := range ms {
		if err := m.check(a, fmt.Sprintf("%s[%d]", param, i)); err != nil {
			return false, err
		}
		sketch = sketch || m.needsSketch()
	}
	return sketch, nil
}

// Eval computes m over agg, whose events span spanMs milliseconds (for Rate).
// It is NaN when agg is nil, when a ratio or mean has no denominator, and for a
// quantile without a sketch.
func (m Measure) Eval(agg *aggregate.Aggregate, spanMs int64) float64 {
	if agg == nil {
		return math.NaN()
	}
	switch m.Kind {
	case Count:
		return float64(agg.Count)
	case Rate:
		if spanMs <= 0 {
			return math.NaN()
		}
		return float64(agg.Count) / (float64(spanMs) / 1000)
	case ClientErrors:
		return float64(agg.ClientErrors)
	case ServerErrors:
		return float64(agg.ServerErrors)
	case Errors:
		return float64(agg.ClientErrors + agg.ServerErrors)
	case ErrorRatio:
		return agg.ErrorRatio()
	case ClientErrorRatio:
		return agg.ClientErrorRatio()
	case Sum:
		return agg.Sum
	case Min:
		if agg.Values == 0 {
			return math.NaN()
		}
		return agg.Min
	case Max:
		if agg.Values == 0 {
			return math.NaN()
		}
		return agg.Max
	case Avg:
		return agg.Mean()
	case Quantile:
		return agg.Quantile(m.Q)
	}
	return math.NaN()
}
