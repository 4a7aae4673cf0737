package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/window"
)

// Measure names.
const (
	Count      = "count"
	Errors     = "errors"
	ErrorRatio = "error_ratio"
	Sum        = "sum"
	Min        = "min"
	Max        = "max"
)

var allMeasures = []string{Count, Errors, ErrorRatio, Sum, Min, Max}

// Limits of the configuration.
const (
	// MaxAggregations bounds the aggregations of one configuration (the engine
	// reports late records per aggregation in a 64-bit mask).
	MaxAggregations = 64
	// MaxWindowsPerEvent bounds size/advance of a hopping window: every event
	// updates that many windows of its key, and each key holds them all open.
	MaxWindowsPerEvent = 1000
	// MaxDimensionLengthLimit is the largest events.max_dimension_length.
	MaxDimensionLengthLimit = 64 << 10
	// MaxEventSize is the largest events.max_size: franz-go reads at most 100 MiB
	// from a broker at once (kgo.BrokerMaxReadBytes, which kwindow leaves at its
	// default), so no larger record can reach the decoder.
	MaxEventSize = 100 << 20
	// MaxIdleWindows is the largest metrics.idle_windows.
	MaxIdleWindows = 10000
	// MaxClassicBuckets bounds metrics.classic_buckets: each bound is one more
	// series per key and partition in every value histogram.
	MaxClassicBuckets = 100
	// MaxRollups bounds the rollups of one aggregation: every closed window is
	// merged into one rollup window per resolution.
	MaxRollups = 8
)

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	topicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
)

func (a *Aggregation) span() Duration {
	if a.Window.Type == "session" {
		return a.Window.Gap
	}
	return a.Window.Size
}

// supports says why the events section cannot feed measure m, or "" if it can.
func (c *Config) supports(m string) string {
	switch m {
	case Errors, ErrorRatio:
		if c.Events.Status == nil {
			return "needs events.status"
		}
	case Sum, Min, Max:
		if c.Events.Value == nil {
			return "needs events.value"
		}
	}
	return ""
}

// validate checks the whole configuration and returns every problem found; now
// is the time events.min_timestamp must be before, has reports which fields the
// file sets.
func (c *Config) validate(now time.Time, has func(string) bool) problems {
	var p problems
	c.validateEvents(&p, now)
	if s := *c.Sketch.Schema; s < -4 || s > 8 {
		p.add("sketch.schema", "must be between -4 and 8, got %d", s)
	} else if h := *c.Metrics.HistogramSchema; h < -4 || h > s {
		p.add("metrics.histogram_schema", "must be between -4 and the sketch schema (%d), got %d", s, h)
	}
	if n := c.Metrics.IdleWindows; n < 1 || n > MaxIdleWindows {
		p.add("metrics.idle_windows", "must be between 1 and %d, got %d", MaxIdleWindows, n)
	}
	c.validateClassicBuckets(&p)
	if len(c.Aggregations) == 0 {
		p.add("aggregations", "at least one aggregation is needed")
	}
	if len(c.Aggregations) > MaxAggregations {
		p.add("aggregations", "at most %d aggregations, got %d", MaxAggregations, len(c.Aggregations))
	}
	var ap problems
	names := map[string]bool{}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		path := fmt.Sprintf("aggregations[%d]", i)
		switch {
		case !nameRE.MatchString(a.Name):
			ap.add(path+".name", "%q is not a valid metric name part ([a-zA-Z_][a-zA-Z0-9_]*)", a.Name)
		case names[a.Name]:
			ap.add(path+".name", "aggregation %q defined twice", a.Name)
		}
		names[a.Name] = true
		c.validateAggregation(&ap, a, path)
	}
	if len(ap) > 0 && !has("aggregations") {
		// The example's aggregations, which need the example's events.
		ap = problems{{path: "aggregations", msg: fmt.Sprintf(
			"none given, and the default ones do not fit this events section (%s); define aggregations for these events",
			ap[0])}}
	}
	p = append(p, ap...)
	c.validateMetricNames(&p)
	c.validateRuntime(&p)
	c.validateAPI(&p)
	return p
}

func (c *Config) validateEvents(p *problems, now time.Time) {
	e := c.Events
	n := len(*p)
	var fields []namedField // every JSON path, for the prefix check
	field := func(path, f string) {
		if f == "" {
			p.add(path, "must be set")
		} else if why := checkField(f); why != "" {
			p.add(path, "%q %s", f, why)
		} else {
			fields = append(fields, namedField{path, f})
		}
	}
	if t := e.Timestamp; t != nil {
		if t.Field == "" {
			p.add("events.timestamp.field", "must be set (remove events.timestamp to use Kafka record times)")
		} else {
			field("events.timestamp.field", t.Field)
		}
		if _, err := event.ParseUnit(t.Unit); err != nil {
			p.add("events.timestamp.unit", "%v", err)
		}
	}
	if v := e.Value; v != nil {
		field("events.value.field", v.Field)
		if _, ok := valueScales[v.Unit]; !ok {
			p.add("events.value.unit", "unknown unit %q (want ns, us, ms, s or none)", v.Unit)
		}
	}
	if s := e.Status; s != nil {
		field("events.status.field", s.Field)
		client := ranges(p, "events.status.client_errors", s.ClientErrors)
		server := ranges(p, "events.status.server_errors", s.ServerErrors)
		for i, cr := range client {
			for j, sr := range server {
				if cr.Lo <= sr.Hi && sr.Lo <= cr.Hi {
					p.add(fmt.Sprintf("events.status.server_errors[%d]", j), "%q overlaps client_errors[%d] (%q): a status is a client or a server error, not both",
						s.ServerErrors[j], i, s.ClientErrors[i])
				}
			}
		}
	}
	dims := map[string]bool{}
	for i, d := range e.Dimensions {
		path := fmt.Sprintf("events.dimensions[%d]", i)
		if why := checkLabelName(d.Name); why != "" {
			p.add(path+".name", "%s", why)
		} else if dims[d.Name] {
			p.add(path+".name", "dimension %q defined twice", d.Name)
		}
		dims[d.Name] = true
		field(path+".field", d.Field)
		if d.Default != "" && !d.Optional {
			p.add(path+".default", "only an optional dimension takes a default")
		}
		if len(d.Default) > e.MaxDimensionLength && e.MaxDimensionLength > 0 {
			p.add(path+".default", "is %d bytes, longer than max_dimension_length (%d)", len(d.Default), e.MaxDimensionLength)
		}
	}
	// The decoder reads a field as a value or as an object holding others, not both.
	for _, a := range fields {
		for _, b := range fields {
			if strings.HasPrefix(b.field, a.field+".") {
				p.add(b.path, "%q is inside %q, which %s reads as a value", b.field, a.field, a.path)
			}
		}
	}
	if d := *e.MaxFutureSkew; d <= 0 {
		p.add("events.max_future_skew", "must be > 0, got %v", d)
	}
	if e.MaxSize < 1 || e.MaxSize > MaxEventSize {
		p.add("events.max_size", "must be between 1 and %d (100 MiB), got %d", MaxEventSize, e.MaxSize)
	}
	if l := e.MaxDimensionLength; l < 1 || l > MaxDimensionLengthLimit {
		p.add("events.max_dimension_length", "must be between 1 and %d (64 KiB), got %d", MaxDimensionLengthLimit, l)
	}
	if t, err := time.Parse(time.RFC3339Nano, e.MinTimestamp); err != nil {
		p.add("events.min_timestamp", "%q is not an RFC 3339 time like %s", e.MinTimestamp, DefaultMinTimestamp)
	} else if t.UnixMilli() <= 0 || !t.Before(now) {
		p.add("events.min_timestamp", "must be after 1970-01-01T00:00:00Z and before now, got %s", e.MinTimestamp)
	}
	if len(*p) == n {
		// What the decoder itself refuses, should a rule above be missing.
		if err := c.EventSchema().Validate(); err != nil {
			p.add("events", "%v", err)
		}
	}
}

type namedField struct{ path, field string }

// checkField says what is wrong with a JSON path such as labels.region, or "".
func checkField(f string) string {
	if slices.Contains(strings.Split(f, "."), "") {
		return "has an empty part (write fields as a.b.c)"
	}
	return ""
}

// ranges parses status ranges, reporting the bad ones.
func ranges(p *problems, path string, rs []string) []event.Range {
	if rs != nil && len(rs) == 0 {
		p.add(path, "must list at least one range (remove it for the default)")
	}
	var out []event.Range
	for i, r := range rs {
		rg, err := parseRange(r)
		if err != nil {
			p.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
		}
		out = append(out, rg)
	}
	return out
}

func (c *Config) validateAggregation(p *problems, a *Aggregation, path string) {
	dims := map[string]bool{}
	for _, d := range c.Events.Dimensions {
		dims[d.Name] = true
	}
	seen := map[string]bool{}
	for j, g := range a.GroupBy {
		switch {
		case !dims[g]:
			p.add(fmt.Sprintf("%s.group_by[%d]", path, j), "unknown dimension %q (define it under events.dimensions)", g)
		case seen[g]:
			p.add(fmt.Sprintf("%s.group_by[%d]", path, j), "dimension %q listed twice", g)
		}
		seen[g] = true
	}
	if a.Window.Type == "" {
		p.add(path+".window.type", "must be set: tumbling, hopping, sliding or session")
	} else if _, err := window.ParseKind(a.Window.Type); err != nil {
		p.add(path+".window.type", "%v", err)
	} else if err := a.specForValidation().Validate(); err != nil {
		var se *window.SpecError
		switch {
		case !errors.As(err, &se):
			p.add(path+".window", "%v", err)
		case se.Field == "grace" || se.Field == "retention":
			p.add(path+"."+se.Field, "%s", se.Msg)
		default:
			p.add(path+".window."+se.Field, "%s", se.Msg)
		}
	} else if w := a.Window; w.Type == "hopping" && w.Size/w.Advance > MaxWindowsPerEvent {
		p.add(path+".window.advance", "must be >= size/%d (%v): an event falls in size/advance windows, at most %d; got %v",
			MaxWindowsPerEvent, w.Size/MaxWindowsPerEvent, MaxWindowsPerEvent, w.Advance)
	}
	if a.Grace < 0 {
		p.add(path+".grace", "must be >= 0, got %v", a.Grace)
	}
	measures := map[string]bool{}
	for j, m := range a.Measures {
		mp := fmt.Sprintf("%s.measures[%d]", path, j)
		switch {
		case !slices.Contains(allMeasures, m):
			p.add(mp, "unknown measure %q (want one of %s)", m, strings.Join(allMeasures, ", "))
		case c.supports(m) != "":
			p.add(mp, "measure %q %s", m, c.supports(m))
		case measures[m]:
			p.add(mp, "measure %q listed twice", m)
		}
		measures[m] = true
	}
	if an := a.Anomaly; an != nil {
		if !(an.Alpha > 0 && an.Alpha <= 1) {
			p.add(path+".anomaly.alpha", "must be in (0, 1], got %v", an.Alpha)
		}
		if an.Warmup < 1 {
			p.add(path+".anomaly.warmup", "must be >= 1, got %d", an.Warmup)
		}
		scored := map[string]string{}
		for j, m := range an.Measures {
			mp := fmt.Sprintf("%s.anomaly.measures[%d]", path, j)
			if err := a.checkAnomalyMeasure(m, c); err != "" {
				p.add(mp, "%s", err)
				continue
			}
			// p99 and p990 are the same quantile, and the same series.
			id := m
			if q, ok := QuantileOf(m); ok {
				id = strconv.FormatFloat(q, 'g', -1, 64)
			}
			if prev, dup := scored[id]; dup {
				p.add(mp, "%q is scored already (as %q): each measure makes one anomaly_score series", m, prev)
			}
			scored[id] = m
		}
	}
	if a.MaxKeys < 1 {
		p.add(path+".max_keys", "must be > 0, got %d", a.MaxKeys)
	}
	quantiles := map[float64]bool{}
	for j, q := range a.Quantiles {
		qp := fmt.Sprintf("%s.quantiles[%d]", path, j)
		switch {
		case !(q >= 0 && q <= 1):
			p.add(qp, "must be between 0 and 1, got %v", q)
		case c.Events.Value == nil:
			p.add(qp, "quantiles need events.value")
		case quantiles[q]:
			p.add(qp, "%v listed twice", q)
		}
		quantiles[q] = true
	}
	validateRollups(p, a, path)
	c.validateRollupTopics(p, a, path)
	if t := c.ChangelogTopic(a.Name); len(t) > maxTopicLength {
		p.add(path+".name", "makes the changelog topic %s, %d characters long; Kafka allows %d", t, len(t), maxTopicLength)
	}
}

// specForValidation is a's window spec with a negative grace taken as 0: the
// grace is checked on its own, and window.Spec.Validate reports only its first
// problem, which would hide the window's.
func (a *Aggregation) specForValidation() window.Spec {
	s := a.WindowSpec()
	s.Grace = max(s.Grace, 0)
	return s
}

var valueScales = map[string]float64{"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "none": 1}

func parseRange(s string) (event.Range, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h := l
	var err2 error
	if isRange {
		h, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || l < 0 || h < l || h > math.MaxInt32 {
		return event.Range{}, fmt.Errorf("%q is not a status range like \"500-599\" or \"429\"", s)
	}
	return event.Range{Lo: l, Hi: h}, nil
}

// checkAnomalyMeasure says what is wrong with anomaly measure m of a, or "".
func (a *Aggregation) checkAnomalyMeasure(m string, c *Config) string {
	switch {
	case m == Count:
		return ""
	case m == ErrorRatio:
		if c.Events.Status == nil {
			return "error_ratio needs events.status"
		}
		return ""
	}
	if q, ok := QuantileOf(m); ok {
		if slices.Contains(a.Quantiles, q) {
			return ""
		}
		return fmt.Sprintf("%q needs %v in quantiles", m, q)
	}
	return fmt.Sprintf("unknown measure %q (want count, error_ratio or pNN such as p99)", m)
}

// QuantileOf reads a quantile measure name: p99 is 0.99, p50 0.5, p999 0.999.
func QuantileOf(m string) (float64, bool) {
	digits, ok := strings.CutPrefix(m, "p")
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	q, err := strconv.ParseFloat("0."+digits, 64)
	return q, err == nil
}

// validateClassicBuckets checks metrics.classic_buckets: Prometheus wants the
// bounds of a classic histogram finite (it adds +Inf itself) and strictly
// increasing, and the sketch has no bucket to split at 0 or below.
func (c *Config) validateClassicBuckets(p *problems) {
	bs := c.Metrics.ClassicBuckets
	if len(bs) > MaxClassicBuckets {
		p.add("metrics.classic_buckets", "at most %d bounds, got %d", MaxClassicBuckets, len(bs))
		return
	}
	for i, b := range bs {
		path := fmt.Sprintf("metrics.classic_buckets[%d]", i)
		switch {
		case math.IsNaN(b) || math.IsInf(b, 0):
			p.add(path, "must be finite (the +Inf bucket is always exported), got %v", b)
		case b <= 0:
			p.add(path, "must be > 0, got %v", b)
		case i > 0 && !math.IsInf(bs[i-1], 0) && b <= bs[i-1]:
			p.add(path, "must be greater than the bound before it (%v), got %v", bs[i-1], b)
		}
	}
}

// validateRollups checks that each rollup resolution holds whole windows of the
// resolution before it, so that a window (and a finer rollup window) lies in
// exactly one rollup window of each resolution, and that coarser data is kept at
// least as long as finer data, so that a range old enough to have lost its
// fine windows is still served by coarse ones.
func validateRollups(p *problems, a *Aggregation, path string) {
	if len(a.Rollups) == 0 {
		return
	}
	if a.Window.Type != "tumbling" {
		p.add(path+".rollups", "only tumbling windows roll up (%s windows overlap or vary in length, so their windows cannot be merged into coarser ones without counting events twice); got window.type %s",
			a.Window.Type, a.Window.Type)
		return
	}
	if len(a.Rollups) > MaxRollups {
		p.add(path+".rollups", "at most %d rollups, got %d", MaxRollups, len(a.Rollups))
		return
	}
	prev, prevName := a.Window.Size, "window.size"
	prevRet, prevRetName := a.Retention, "retention"
	for j, r := range a.Rollups {
		rp := fmt.Sprintf("%s.rollups[%d]", path, j)
		switch {
		case r.Resolution <= 0:
			p.add(rp+".resolution", "must be > 0, got %v", r.Resolution)
		case r.Resolution%Duration(time.Millisecond) != 0:
			p.add(rp+".resolution", "must be a whole number of milliseconds, got %v", r.Resolution)
		case prev > 0 && (r.Resolution <= prev || r.Resolution%prev != 0):
			p.add(rp+".resolution", "must be a multiple of %s (%v) greater than it, so that its windows hold whole ones; got %v", prevName, prev, r.Resolution)
		}
		switch {
		case r.Retention < r.Resolution+a.Grace:
			p.add(rp+".retention", "must be >= resolution + grace (%v), got %v", r.Resolution+a.Grace, r.Retention)
		case r.Retention < prevRet:
			p.add(rp+".retention", "must be >= %s (%v): coarser rollups are kept at least as long as finer data; got %v", prevRetName, prevRet, r.Retention)
		}
		if r.Resolution > 0 {
			prev, prevName = r.Resolution, fmt.Sprintf("rollups[%d].resolution", j)
		}
		prevRet, prevRetName = r.Retention, fmt.Sprintf("rollups[%d].retention", j)
	}
}

// validateRollupTopics refuses rollup changelog topics longer than Kafka allows.
func (c *Config) validateRollupTopics(p *problems, a *Aggregation, path string) {
	for j, r := range a.Rollups {
		if t := c.RollupChangelogTopic(a.Name, r.Resolution); len(t) > maxTopicLength {
			p.add(fmt.Sprintf("%s.rollups[%d].resolution", path, j), "makes the changelog topic %s, %d characters long; Kafka allows %d", t, len(t), maxTopicLength)
		}
	}
}
