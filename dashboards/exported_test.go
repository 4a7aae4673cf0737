package dashboards

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/metrics"
	"github.com/kwindow/kwindow/exporter/stream"
)

// family is a metric family a query may name: its labels (nil: any, for series
// Prometheus makes itself) and the series names it adds to its own (_bucket,
// _count and _sum for a histogram).
type family struct {
	labels   map[string]bool
	suffixes []string
}

// recorder is a Registerer that keeps the descriptors of what is registered, and
// registers it in a real registry too, whose Gather says which families are
// histograms or summaries.
type recorder struct {
	reg   *prometheus.Registry
	descs []*prometheus.Desc
}

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		r.descs = append(r.descs, d)
	}
	return r.reg.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

func (r *recorder) Unregister(c prometheus.Collector) bool { return r.reg.Unregister(c) }

// descRE reads a Desc's String: client_golang gives no other access to its name and labels.
var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", help: .*, constLabels: \{(.*)\}, variableLabels: \{([^}]*)\}\}$`)

var constLabelRE = regexp.MustCompile(`(?:^|,)([a-zA-Z_][a-zA-Z0-9_]*)="`)

// exported returns the metric families kwindow's /metrics serves for cfg, by
// name: the view's collector (metrics.NewCollector), the runtime's self-metrics
// (stream.New registers them and does no I/O), and the Go, process and build
// collectors exporter/serve.go's newRegistry adds. Series Prometheus makes (up,
// ALERTS, ALERTS_FOR_STATE) and the recording rules of alerts/ are added by the
// caller.
func exported(t *testing.T, cfg *config.Config) map[string]*family {
	t.Helper()
	r := &recorder{reg: prometheus.NewRegistry()}
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		versioncollector.NewCollector(stream.Namespace))
	r.MustRegister(metrics.NewCollector(metrics.NewView(cfg)))
	if _, err := stream.New(context.Background(), cfg, stream.Options{Registerer: r}); err != nil {
		t.Fatalf("stream.New: %v", err)
	}
	fams := map[string]*family{}
	for _, d := range r.descs {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		f := &family{labels: map[string]bool{}}
		for _, c := range constLabelRE.FindAllStringSubmatch(m[2], -1) {
			f.labels[c[1]] = true
		}
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				f.labels[l] = true
			}
		}
		fams[m[1]] = f
	}
	// Histograms and summaries that have a sample without data: the self-metrics'.
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			fams[mf.GetName()].suffixes = []string{"_bucket", "_count", "_sum"}
		case dto.MetricType_SUMMARY:
			fams[mf.GetName()].suffixes = []string{"_count", "_sum"}
			fams[mf.GetName()].labels["quantile"] = true
		}
	}
	// The aggregations' value histograms, which have no sample before a window closes.
	for i := range cfg.Aggregations {
		a := &cfg.Aggregations[i]
		may := cfg.MetricFamilies(a)
		for name := range fams {
			if strings.HasPrefix(name, "kwindow_"+a.Name+"_") && !slices.Contains(may, name) {
				t.Errorf("the collector exports %s, which config.MetricFamilies does not list for %s", name, a.Name)
			}
		}
		if f := fams["kwindow_"+a.Name+"_"+cfg.ValueFamily()]; f != nil {
			f.suffixes = []string{"_bucket", "_count", "_sum"}
		}
	}
	for _, name := range []string{"kwindow_endpoint_1m_latency_seconds", "kwindow_records_processed_total", "kwindow_consumer_lag", "kwindow_build_info", "go_goroutines"} {
		if fams[name] == nil {
			t.Fatalf("exported: no %s among %d families: the way they are gathered is broken", name, len(fams))
		}
	}
	return fams
}

// series finds the family of a series name: the family itself, or one of its
// _bucket, _count or _sum series; suffix says which.
func series(fams map[string]*family, name string) (f *family, suffix string) {
	if f := fams[name]; f != nil {
		return f, ""
	}
	for base, f := range fams {
		for _, s := range f.suffixes {
			if name == base+s {
				return f, s
			}
		}
	}
	return nil, ""
}
