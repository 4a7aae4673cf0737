package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
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

const defaultRetention = Duration(24 * time.Hour)

// DefaultMaxKeys is the default of Aggregation.MaxKeys.
const DefaultMaxKeys = 100000

// MaxAggregations bounds the aggregations of one configuration (the engine reports
// late records per aggregation in a 64-bit mask).
const MaxAggregations = 64

// exampleRaw is the example file as written, before defaults: the source of the
// default events section and aggregations.
var exampleRaw = sync.OnceValue(func() Config {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(example))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		panic(fmt.Sprintf("config: the built-in example does not parse: %v", err))
	}
	return c
})

func (c *Config) fillDefaults() {
	if c.Events == nil {
		ev := *exampleRaw().Events
		c.Events = &ev
	}
	if c.Aggregations == nil {
		c.Aggregations = slices.Clone(exampleRaw().Aggregations)
	}
	if c.Sketch.Schema == nil {
		s := int32(sketch.DefaultSchema)
		c.Sketch.Schema = &s
	}
	if c.Metrics.HistogramSchema == nil {
		h := min(int32(3), *c.Sketch.Schema)
		c.Metrics.HistogramSchema = &h
	}
	if c.Metrics.IdleWindows == 0 {
		c.Metrics.IdleWindows = 5
	}
	c.fillRuntimeDefaults()
	e := c.Events
	if e.Timestamp != nil && e.Timestamp.Unit == "" {
		e.Timestamp.Unit = "auto"
	}
	if v := e.Value; v != nil {
		if v.Unit == "" {
			v.Unit = "s"
		}
		if v.Required == nil {
			t := true
			v.Required = &t
		}
	}
	if s := e.Status; s != nil {
		if s.ClientErrors == nil {
			s.ClientErrors = []string{"400-499"}
		}
		if s.ServerErrors == nil {
			s.ServerErrors = []string{"500-599"}
		}
	}
	for i := range e.Dimensions {
		if d := &e.Dimensions[i]; d.Field == "" {
			d.Field = d.Name
		}
	}
	if e.MaxFutureSkew == nil {
		d := Duration(time.Hour)
		e.MaxFutureSkew = &d
	}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		if a.Retention == 0 {
			a.Retention = max(defaultRetention, a.span()+a.Grace)
		}
		if an := a.Anomaly; an != nil {
			if an.Alpha == 0 {
				an.Alpha = 0.1
			}
			if an.Warmup == 0 {
				an.Warmup = 10
			}
		}
		if a.MaxKeys == 0 {
			a.MaxKeys = DefaultMaxKeys
		}
		if a.Measures == nil {
			for _, m := range allMeasures {
				if c.supports(m) == "" {
					a.Measures = append(a.Measures, m)
				}
			}
		}
	}
}

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

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	topicRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,200}$`)
)

// fieldError is a validation error at a YAML path such as aggregations[1].window.size.
type fieldError struct {
	path string
	msg  string
}

func (e *fieldError) Error() string { return e.path + ": " + e.msg }

// validate checks the whole configuration and returns every problem found.
func (c *Config) validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &fieldError{path, fmt.Sprintf(format, args...)})
	}
	e := c.Events
	if t := e.Timestamp; t != nil {
		if t.Field == "" {
			bad("events.timestamp.field", "must be set (remove events.timestamp to use Kafka record times)")
		}
		if _, err := event.ParseUnit(t.Unit); err != nil {
			bad("events.timestamp.unit", "%v", err)
		}
	}
	if v := e.Value; v != nil {
		if v.Field == "" {
			bad("events.value.field", "must be set")
		}
		if _, ok := valueScales[v.Unit]; !ok {
			bad("events.value.unit", "unknown unit %q (want ns, us, ms, s or none)", v.Unit)
		}
	}
	if s := e.Status; s != nil {
		if s.Field == "" {
			bad("events.status.field", "must be set")
		}
		for i, r := range s.ClientErrors {
			if _, err := parseRange(r); err != nil {
				bad(fmt.Sprintf("events.status.client_errors[%d]", i), "%v", err)
			}
		}
		for i, r := range s.ServerErrors {
			if _, err := parseRange(r); err != nil {
				bad(fmt.Sprintf("events.status.server_errors[%d]", i), "%v", err)
			}
		}
	}
	dims := map[string]bool{}
	for i, d := range e.Dimensions {
		path := fmt.Sprintf("events.dimensions[%d]", i)
		switch {
		case !nameRE.MatchString(d.Name):
			bad(path+".name", "%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)", d.Name)
		case dims[d.Name]:
			bad(path+".name", "dimension %q defined twice", d.Name)
		}
		if d.Default != "" && !d.Optional {
			bad(path+".default", "only an optional dimension takes a default")
		}
		dims[d.Name] = true
	}
	if e.MaxFutureSkew != nil && *e.MaxFutureSkew < 0 {
		bad("events.max_future_skew", "must be >= 0, got %v", *e.MaxFutureSkew)
	}
	if e.MaxSize < 0 {
		bad("events.max_size", "must be >= 0, got %d", e.MaxSize)
	}
	if s := *c.Sketch.Schema; s < -4 || s > 8 {
		bad("sketch.schema", "must be between -4 and 8, got %d", s)
	} else if h := *c.Metrics.HistogramSchema; h < -4 || h > s {
		bad("metrics.histogram_schema", "must be between -4 and the sketch schema (%d), got %d", s, h)
	}
	if c.Metrics.IdleWindows < 1 {
		bad("metrics.idle_windows", "must be >= 1, got %d", c.Metrics.IdleWindows)
	}
	if len(c.Aggregations) == 0 {
		bad("aggregations", "at least one aggregation is needed")
	}
	if len(c.Aggregations) > MaxAggregations {
		bad("aggregations", "at most %d aggregations, got %d", MaxAggregations, len(c.Aggregations))
	}
	names := map[string]bool{}
	for i, a := range c.Aggregations {
		path := fmt.Sprintf("aggregations[%d]", i)
		switch {
		case !nameRE.MatchString(a.Name):
			bad(path+".name", "%q is not a valid metric name part ([a-zA-Z_][a-zA-Z0-9_]*)", a.Name)
		case names[a.Name]:
			bad(path+".name", "aggregation %q defined twice", a.Name)
		}
		names[a.Name] = true
		seen := map[string]bool{}
		for j, g := range a.GroupBy {
			switch {
			case !dims[g]:
				bad(fmt.Sprintf("%s.group_by[%d]", path, j), "unknown dimension %q (define it under events.dimensions)", g)
			case seen[g]:
				bad(fmt.Sprintf("%s.group_by[%d]", path, j), "dimension %q listed twice", g)
			}
			seen[g] = true
		}
		if _, err := window.ParseKind(a.Window.Type); err != nil {
			bad(path+".window.type", "%v", err)
		} else if err := a.WindowSpec().Validate(); err != nil {
			var se *window.SpecError
			errors.As(err, &se)
			field := path + ".window." + se.Field
			if se.Field == "grace" || se.Field == "retention" {
				field = path + "." + se.Field
			}
			bad(field, "%s", se.Msg)
		}
		for j, m := range a.Measures {
			p := fmt.Sprintf("%s.measures[%d]", path, j)
			if !slices.Contains(allMeasures, m) {
				bad(p, "unknown measure %q (want one of %s)", m, strings.Join(allMeasures, ", "))
			} else if why := c.supports(m); why != "" {
				bad(p, "measure %q %s", m, why)
			}
		}
		if an := a.Anomaly; an != nil {
			if !(an.Alpha > 0 && an.Alpha <= 1) {
				bad(path+".anomaly.alpha", "must be in (0, 1], got %v", an.Alpha)
			}
			if an.Warmup < 1 {
				bad(path+".anomaly.warmup", "must be >= 1, got %d", an.Warmup)
			}
			for j, m := range an.Measures {
				if err := a.checkAnomalyMeasure(m, c); err != "" {
					bad(fmt.Sprintf("%s.anomaly.measures[%d]", path, j), "%s", err)
				}
			}
		}
		if a.MaxKeys < 0 {
			bad(path+".max_keys", "must be > 0, got %d", a.MaxKeys)
		}
		for j, q := range a.Quantiles {
			p := fmt.Sprintf("%s.quantiles[%d]", path, j)
			switch {
			case !(q >= 0 && q <= 1):
				bad(p, "must be between 0 and 1, got %v", q)
			case c.Events.Value == nil:
				bad(p, "quantiles need events.value")
			}
		}
	}
	errs = append(errs, c.validateRuntime()...)
	return errors.Join(errs...)
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
	if err1 != nil || err2 != nil || l < 0 || h < l {
		return event.Range{}, fmt.Errorf("%q is not a status range like \"500-599\" or \"429\"", s)
	}
	return event.Range{Lo: l, Hi: h}, nil
}

// withLines prefixes each field error with the file name and the line of the field,
// or of its nearest parent present in the file when the value was defaulted.
func withLines(name string, root *yaml.Node, err error) error {
	var errs []error
	for _, e := range unjoin(err) {
		var fe *fieldError
		if errors.As(e, &fe) {
			errs = append(errs, fmt.Errorf("config %s:%d: %w", name, lineOf(root, fe.path), e))
		} else {
			errs = append(errs, fmt.Errorf("config %s: %w", name, e))
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var segRE = regexp.MustCompile(`([a-z_]+)|\[(\d+)\]`)

// lineOf finds the line of a path like aggregations[1].window.size in the document.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, m := range segRE.FindAllStringSubmatch(path, -1) {
		var next *yaml.Node
		switch {
		case m[1] != "" && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == m[1] {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
		case m[2] != "" && n.Kind == yaml.SequenceNode:
			if i, _ := strconv.Atoi(m[2]); i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
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
