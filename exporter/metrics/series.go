package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The series of a scrape. Each family's series are allocated in one slice and
// point into the view's immutable snapshots (label pairs, histogram buckets),
// so a scrape allocates a few slices per family rather than several
// objects per series. Write hands the registry pointers into the series, as
// client_golang's own const metrics do: nothing here is modified once sent.

type valueSeries struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	c      dto.Counter
	g      dto.Gauge
	gauge  bool
}

func (s *valueSeries) set(desc *prometheus.Desc, labels []*dto.LabelPair, value float64, gauge bool) {
	s.desc, s.labels, s.value, s.gauge = desc, labels, value, gauge
	if gauge {
		s.g.Value = &s.value
	} else {
		s.c.Value = &s.value
	}
}

func (s *valueSeries) Desc() *prometheus.Desc  { return s.desc }
func (s *valueSeries) pairs() []*dto.LabelPair { return s.labels }
func (s *valueSeries) Write(m *dto.Metric) error {
	m.Label = s.labels
	if s.gauge {
		m.Gauge = &s.g
	} else {
		m.Counter = &s.c
	}
	return nil
}

type histSeries struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	h      dto.Histogram
}

func (s *histSeries) Desc() *prometheus.Desc  { return s.desc }
func (s *histSeries) pairs() []*dto.LabelPair { return s.labels }
func (s *histSeries) Write(m *dto.Metric) error {
	m.Label, m.Histogram = s.labels, &s.h
	return nil
}

type series interface {
	prometheus.Metric
	pairs() []*dto.LabelPair
}

// family collects the series of one metric family of a scrape.
type family[S any, P interface {
	*S
	series
}] struct {
	all []S
	ptr []P
}

func newFamily[S any, P interface {
	*S
	series
}](n int) *family[S, P] {
	return &family[S, P]{all: make([]S, 0, n), ptr: make([]P, 0, n)}
}

// add returns a new series of the family.
func (f *family[S, P]) add() *S {
	if len(f.all) == cap(f.all) { // only if n was short: keep earlier pointers valid
		f.all = make([]S, 0, max(cap(f.all), 16))
	}
	f.all = f.all[:len(f.all)+1]
	s := &f.all[len(f.all)-1]
	f.ptr = append(f.ptr, P(s))
	return s
}

// send sends the series in the order the registry sorts them (by label values
// in label name order), sorting them first unless sorted says they already are:
// the registry's sort of an already sorted family costs one comparison per series.
func (f *family[S, P]) send(ch chan<- prometheus.Metric, sorted bool) {
	if !sorted {
		slices.SortFunc(f.ptr, func(a, b P) int { return cmpPairs(a.pairs(), b.pairs()) })
	}
	for _, s := range f.ptr {
		ch <- s
	}
}
