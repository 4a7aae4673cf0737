package config

import (
	"slices"
	"strings"
	"time"

	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/window"
)

// EventSchema compiles the events section for the decoder. Call it on a validated
// Config only.
func (c *Config) EventSchema() event.Schema {
	e := c.Events
	var s event.Schema
	if t := e.Timestamp; t != nil {
		s.Timestamp = path(t.Field)
		s.TimestampUnit, _ = event.ParseUnit(t.Unit)
	}
	if v := e.Value; v != nil {
		s.Value = path(v.Field)
		s.ValueScale = valueScales[v.Unit]
		s.ValueRequired = *v.Required
		s.AllowNegative = v.AllowNegative
	}
	if st := e.Status; st != nil {
		s.Status = path(st.Field)
		for _, r := range st.ClientErrors {
			rg, _ := parseRange(r)
			s.ClientErrors = append(s.ClientErrors, rg)
		}
		for _, r := range st.ServerErrors {
			rg, _ := parseRange(r)
			s.ServerErrors = append(s.ServerErrors, rg)
		}
	}
	for _, d := range e.Dimensions {
		s.Dimensions = append(s.Dimensions, event.Dimension{Name: d.Name, Path: path(d.Field), Optional: d.Optional, Default: d.Default})
	}
	if e.MaxFutureSkew != nil {
		s.MaxFutureSkew = e.MaxFutureSkew.Millis()
	}
	s.MaxSize = e.MaxSize
	s.MaxDimensionLength = e.MaxDimensionLength
	if t, err := time.Parse(time.RFC3339Nano, e.MinTimestamp); err == nil {
		s.MinTime = t.UnixMilli()
	}
	return s
}

func path(field string) event.Path { return strings.Split(field, ".") }

// WindowSpec compiles the window, grace and retention of a.
func (a *Aggregation) WindowSpec() window.Spec {
	kind, _ := window.ParseKind(a.Window.Type)
	return window.Spec{
		Kind:      kind,
		Size:      a.Window.Size.Millis(),
		Advance:   a.Window.Advance.Millis(),
		Gap:       a.Window.Gap.Millis(),
		Grace:     a.Grace.Millis(),
		Retention: a.Retention.Millis(),
	}
}

// DimensionIndexes returns, for each group-by dimension of a, its index in the
// events' dimensions (and so in event.Event.Dims).
func (c *Config) DimensionIndexes(a *Aggregation) []int {
	idx := make([]int, len(a.GroupBy))
	for i, g := range a.GroupBy {
		idx[i] = slices.IndexFunc(c.Events.Dimensions, func(d Dimension) bool { return d.Name == g })
	}
	return idx
}

// Has reports whether a computes measure m.
func (a *Aggregation) Has(m string) bool { return slices.Contains(a.Measures, m) }

// NeedsValue reports whether a keeps value statistics.
func (a *Aggregation) NeedsValue() bool {
	return len(a.Quantiles) > 0 || a.Has(Sum) || a.Has(Min) || a.Has(Max)
}
