package metrics

import (
	"hash/fnv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

type (
	dtoMetric    = dto.Metric
	dtoHistogram = dto.Histogram
)

func storeGroup(vals ...[]byte) []byte { return store.AppendGroup(nil, vals...) }

func newSketch(schema int32) *sketch.Sketch { return sketch.New(schema) }

// referenceHistogram is the native histogram of s at schema as client_golang
// builds it from the sketch package's own downscaling: the independent oracle.
func referenceHistogram(t *testing.T, s *sketch.Sketch, schema int32) *dto.Histogram {
	t.Helper()
	s = s.Clone()
	if s.Schema() > schema {
		s.Downscale(schema)
	}
	pos, neg := s.NativeBuckets()
	desc := prometheus.NewDesc("h", "h", nil, nil)
	m, err := prometheus.NewConstNativeHistogram(desc, s.Count(), s.Sum(), pos, neg, s.ZeroCount(), s.Schema(),
		sketch.ZeroThreshold, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram()
}

func parseConfig(t *testing.T, yml string) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sample returns the value of the sample line of text that starts with series
// (name and labels), and whether there is one.
func sample(t *testing.T, text, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmtSscan(rest, &f); err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// ownerOf is the partition of partitions that owns group, as stage 2 routes keys:
// a fixed hash of the key.
func ownerOf(group string, partitions int) int32 {
	h := fnv.New32a()
	h.Write([]byte(group))
	return int32(h.Sum32() % uint32(partitions))
}
