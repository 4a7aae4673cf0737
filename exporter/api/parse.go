package api

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
)

// Early limits on a query's parameters: far above any sensible query, low
// enough that no request makes the server compile much.
const (
	maxMatchers = 32
	maxMeasures = 32
	maxRegexp   = 1 << 10 // bytes of one regular expression
)

// The parameters the queries share.
var (
	pAggregation = param{name: "aggregation", required: true, example: "req_1m",
		desc: "The aggregation (see /api/v1/aggregations)."}
	pMatch = param{name: "match[]", kind: kRepeated, example: `endpoint="/api/x"`,
		desc: "A matcher in Prometheus syntax: dimension=\"value\", with =, !=, =~ or !~ " +
			"(a regular expression, RE2, matches the whole value), or a selector of several, " +
			"{endpoint=\"/api/x\", region=~\"eu-.*\"}. Repeat for more: all must match. At most 32; " +
			"a regular expression at most 1 KiB."}
	pMeasures = param{name: "measure", kind: kRepeated, example: "p99",
		desc: "A measure: count, rate (events per second), client_errors, server_errors, errors, " +
			"error_ratio (server errors / events), client_error_ratio, sum, min, max, avg, " +
			"pNN (p50, p99, p99.9) or qX (q0.999). Repeat or separate with commas; at most 32. " +
			"Each point's values are keyed by the measure as written. Default count."}
	pStale = param{name: "stale", kind: kBool, example: "true",
		desc: "Read partitions that are still restoring, as far as they are restored, instead of " +
			"answering 503; the answer's stale lists them with the records they are behind."}
	pFrom = param{name: "from", kind: kTime, example: "2026-11-20T12:00:00Z",
		desc: "Start of the range of window starts, inclusive: RFC 3339 or unix seconds. Default an hour before to."}
	pTo = param{name: "to", kind: kTime, example: "1795345200",
		desc: "End of the range of window starts, exclusive: RFC 3339 or unix seconds. Default now."}
)

// aggregation reads the aggregation parameter; nil when unknown (p.err says).
func (h *handler) aggregation(p *params) *config.Aggregation {
	name := p.str("aggregation")
	if name == "" {
		p.fail(badParam("aggregation", "required: one of %s", h.aggNames()))
		return nil
	}
	a := h.aggs[name]
	if a == nil {
		p.fail(badParam("aggregation", "unknown aggregation %q: have %s", name, h.aggNames()))
	}
	return a
}

func (h *handler) aggNames() string {
	names := make([]string, 0, len(h.aggs))
	for n := range h.aggs {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// matchers reads match[].
func (h *handler) matchers(p *params) []query.Matcher {
	var out []query.Matcher
	for _, s := range p.values("match[]") {
		ms, err := client.ParseMatchers(s)
		if err != nil {
			p.fail(badParam("match[]", "%v", err))
			return nil
		}
		for _, m := range ms {
			if (m.Op == client.MatchRegexp || m.Op == client.MatchNotRegexp) && len(m.Value) > maxRegexp {
				p.fail(badParam("match[]", "the regular expression of %s is %d bytes long; at most %d", m.Dim, len(m.Value), maxRegexp))
				return nil
			}
			out = append(out, query.Matcher{Dim: m.Dim, Op: matchOps[m.Op], Value: m.Value})
		}
	}
	if len(out) > maxMatchers {
		p.fail(badParam("match[]", "%d matchers; at most %d", len(out), maxMatchers))
		return nil
	}
	return out
}

var matchOps = map[client.MatchOp]query.Op{
	client.MatchEqual: query.Equal, client.MatchNotEqual: query.NotEqual,
	client.MatchRegexp: query.Regexp, client.MatchNotRegexp: query.NotRegexp,
}

// measures is the measures of a query: as written (the keys of the values in
// the answer) and parsed.
type measures struct {
	names []string
	ms    []query.Measure
}

// measures reads the measure parameter; count when absent.
func (h *handler) measures(p *params) measures {
	names := p.list("measure")
	if len(names) == 0 {
		names = []string{"count"}
	}
	if len(names) > maxMeasures {
		p.fail(badParam("measure", "%d measures; at most %d", len(names), maxMeasures))
		return measures{}
	}
	out := measures{names: names}
	for i, n := range names {
		if slices.Index(names, n) != i {
			p.fail(badParam("measure", "%s given twice", n))
			return measures{}
		}
		m, err := query.ParseMeasure(n)
		if err != nil {
			p.fail(badParam("measure", "%v", err))
			return measures{}
		}
		out.ms = append(out.ms, m)
	}
	return out
}

// values evaluates the measures with eval.
func (m measures) values(eval func(query.Measure) float64) map[string]client.Value {
	out := make(map[string]client.Value, len(m.names))
	for i, n := range m.names {
		out[n] = client.Value(eval(m.ms[i]))
	}
	return out
}

// timeRange reads from and to: to defaults to now, from to an hour before to.
func (h *handler) timeRange(p *params) (from, to int64) {
	to = p.time("to", h.o.Now().UnixMilli())
	from = p.time("from", to-3600_000)
	if p.err == nil && to <= from {
		p.fail(badParam("to", "must be after from (%s), got %s", client.Timestamp(from), client.Timestamp(to)))
	}
	return from, to
}

// queryContext bounds a query by the timeout.
func (h *handler) queryContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.o.Timeout)
}

// labels pairs a key's values with the dimension names.
func labels(dims, key []string) map[string]string {
	m := make(map[string]string, len(dims))
	for i, d := range dims {
		if i < len(key) {
			m[d] = key[i]
		}
	}
	return m
}

// coverage is the wire form of where an answer came from.
func coverage(partitions []int32, c Coverage) client.Coverage {
	cv := client.Coverage{Partitions: nonNil(slices.Clone(partitions)), Instances: nonNil(c.Instances), Stale: []client.StalePartition{}}
	for _, s := range c.Stale {
		cv.Stale = append(cv.Stale, client.StalePartition{Partition: s.Partition, Behind: s.Behind})
	}
	return cv
}

// streamTime is a stream time for the wire: none before any event, nor when
// no partition was read.
func streamTime(t int64) *client.Timestamp {
	if t < minTime || t > maxTime {
		return nil
	}
	ts := client.Timestamp(t)
	return &ts
}
