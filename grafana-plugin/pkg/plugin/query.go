package plugin

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// The query types (QUERY_MODEL.md).
const (
	QueryRange     = "range"
	QueryLatest    = "latest"
	QueryTopK      = "topk"
	QueryAnomalies = "anomalies"
)

// Query is one panel target, as the front end and the dashboards write it
// (grafana-plugin/QUERY_MODEL.md). Template variables are already
// interpolated by the front end.
type Query struct {
	QueryType   string   `json:"queryType"`
	Aggregation string   `json:"aggregation"`
	Measures    []string `json:"measures"`
	// Quantile adds the measure "q<quantile>" (the editor's quantile input).
	Quantile *float64 `json:"quantile"`
	Filters  []Filter `json:"filters"`
	// GroupBy: nil, one series per key; empty, every key merged into one.
	GroupBy      []string `json:"groupBy"`
	LegendFormat string   `json:"legendFormat"`
	Step         string   `json:"step"`
	K            int      `json:"k"`
	Bottom       bool     `json:"bottom"`
	Live         bool     `json:"live"`
	// ClosedOnly leaves out windows still open (range and latest queries):
	// an open window's count and rate are of part of its span, and would
	// read as a drop.
	ClosedOnly bool     `json:"closedOnly"`
	Stale      bool     `json:"stale"`
	Threshold  *float64 `json:"threshold"`
}

// Filter is one matcher of a query: dimension, operator (= != =~ !~), value.
type Filter struct {
	Dim   string `json:"dim"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// DefaultThreshold is the |z-score| above which a window is an anomaly.
const DefaultThreshold = 3.0

// QueryError is a query the plugin refuses before calling the API: Field
// names the query model's field ("filters[0].value").
type QueryError struct {
	Field string
	Msg   string
}

func (e *QueryError) Error() string { return e.Field + ": " + e.Msg }

// leftoverVar matches a template variable the front end did not replace:
// $name, ${name}, ${name:format}, [[name]].
var leftoverVar = regexp.MustCompile(`\$\{[A-Za-z0-9_.:]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z0-9_.:]+\]\]`)

// ParseQuery reads and checks a query's JSON; a refused query is a *QueryError.
func ParseQuery(raw json.RawMessage) (*Query, error) {
	var q Query
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, &QueryError{"query", "not the kwindow query model: " + err.Error()}
	}
	if q.QueryType == "" {
		q.QueryType = QueryRange
	}
	switch q.QueryType {
	case QueryRange, QueryLatest, QueryTopK, QueryAnomalies:
	default:
		return nil, &QueryError{"queryType", fmt.Sprintf("want range, latest, topk or anomalies, got %q", q.QueryType)}
	}
	if strings.TrimSpace(q.Aggregation) == "" {
		return nil, &QueryError{"aggregation", "required: choose an aggregation"}
	}
	if v := leftoverVar.FindString(q.Aggregation); v != "" {
		return nil, &QueryError{"aggregation", fmt.Sprintf("template variable %s was not replaced: is it defined on this dashboard?", v)}
	}
	for i, f := range q.Filters {
		field := fmt.Sprintf("filters[%d]", i)
		if f.Dim == "" {
			return nil, &QueryError{field + ".dim", "required"}
		}
		switch client.MatchOp(f.Op) {
		case "":
			q.Filters[i].Op = string(client.MatchEqual)
		case client.MatchEqual, client.MatchNotEqual, client.MatchRegexp, client.MatchNotRegexp:
		default:
			return nil, &QueryError{field + ".op", fmt.Sprintf("want =, !=, =~ or !~, got %q", f.Op)}
		}
		if v := leftoverVar.FindString(f.Value); v != "" {
			return nil, &QueryError{field + ".value", fmt.Sprintf("filter %s%s%q: template variable %s was not replaced: is it defined on this dashboard?", f.Dim, f.Op, f.Value, v)}
		}
	}
	for i, m := range q.Measures {
		if strings.TrimSpace(m) == "" {
			return nil, &QueryError{fmt.Sprintf("measures[%d]", i), "empty measure name"}
		}
	}
	if len(q.Measures) == 0 {
		q.Measures = []string{"rate"}
	}
	if q.Quantile != nil {
		if !(*q.Quantile > 0 && *q.Quantile < 1) {
			return nil, &QueryError{"quantile", fmt.Sprintf("must be between 0 and 1 (0.999), got %v", *q.Quantile)}
		}
		m := "q" + strconv.FormatFloat(*q.Quantile, 'f', -1, 64)
		if !slices.Contains(q.Measures, m) {
			q.Measures = append(q.Measures, m)
		}
	}
	if q.Step != "" {
		if _, err := parseStep(q.Step); err != nil {
			return nil, &QueryError{"step", err.Error()}
		}
	}
	if q.ClosedOnly && q.QueryType != QueryRange && q.QueryType != QueryLatest {
		return nil, &QueryError{"closedOnly", fmt.Sprintf("only range and latest queries can leave open windows out, not %s", q.QueryType)}
	}
	if q.K < 0 {
		return nil, &QueryError{"k", fmt.Sprintf("must be >= 0 (0: 10), got %d", q.K)}
	}
	if q.Threshold != nil && !(*q.Threshold > 0) {
		return nil, &QueryError{"threshold", fmt.Sprintf("must be > 0, got %v", *q.Threshold)}
	}
	return &q, nil
}

// matchers returns the query's filters as the client's matchers.
func (q *Query) matchers() []client.Matcher {
	ms := make([]client.Matcher, len(q.Filters))
	for i, f := range q.Filters {
		ms[i] = client.Matcher{Dim: f.Dim, Op: client.MatchOp(f.Op), Value: f.Value}
	}
	return ms
}

// threshold returns the anomaly threshold, DefaultThreshold when unset.
func (q *Query) threshold() float64 {
	if q.Threshold == nil {
		return DefaultThreshold
	}
	return *q.Threshold
}

// parseStep reads a step as the API does: a Prometheus duration ("5m") or
// seconds ("300").
func parseStep(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if !(f > 0) || f > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("must be > 0, got %q", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 1m or 1h, or seconds, got %q", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be > 0, got %q", s)
	}
	return time.Duration(d), nil
}
