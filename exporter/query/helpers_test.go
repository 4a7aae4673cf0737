package query

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

const (
	minute = int64(60_000)
	hour   = 60 * minute
	// t0 is a round hour: windows and steps align with it.
	t0 = int64(1_795_341_600_000)
)

// testConfig has one tumbling 1-minute aggregation keyed by every dimension,
// and one without quantiles.
const testConfig = `
events:
  timestamp: {field: ts, unit: ms}
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions:
    - name: endpoint
    - name: method
    - name: region
aggregations:
  - name: req_1m
    group_by: [endpoint, method, region]
    window: {type: tumbling, size: 1m}
    grace: 10s
    retention: 48h
    quantiles: [0.5, 0.99]
  - name: counts_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count, errors, error_ratio]
stream:
  application_id: querytest
  input_topic: in
`

func newConfig(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newLocal(t testing.TB, c *config.Config, lim Limits) *Local {
	t.Helper()
	l, err := New(c, lim)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// ev is a raw event as the reference model sees it.
type ev struct {
	t        int64
	dims     [3]string // endpoint, method, region
	status   int
	latency  float64 // seconds
	hasValue bool
}

var (
	endpoints = []string{"/a", "/b", "/c", "/users", "/users/x", "/v1/orders"}
	methods   = []string{"GET", "POST"}
	regions   = []string{"eu", "us", "ap"}
)

// randomEvents returns n events over [from, from+dur), in time order but for
// swaps of neighbours a few seconds apart (less than the grace: none is late).
func randomEvents(r *rand.Rand, n int, from, dur int64) []ev {
	evs := make([]ev, n)
	for i := range evs {
		e := &evs[i]
		e.t = from + r.Int64N(dur)
		e.dims = [3]string{endpoints[r.IntN(len(endpoints))], methods[r.IntN(len(methods))], regions[r.IntN(len(regions))]}
		switch x := r.IntN(100); {
		case x < 5:
			e.status = 500 + r.IntN(4)
		case x < 12:
			e.status = 400 + r.IntN(30)
		default:
			e.status = 200
		}
		e.hasValue = r.IntN(50) != 0
		// heavy tail: most requests fast, a few slow; the slow share varies by minute
		slow := 0.02 + 0.1*float64((e.t/minute)%5)/4
		if r.Float64() < slow {
			e.latency = 0.5 + 2*r.ExpFloat64()
		} else {
			e.latency = 0.005 + 0.03*r.Float64()
		}
	}
	slices.SortFunc(evs, func(a, b ev) int { return cmpInt(a.t, b.t) })
	for i := 1; i < len(evs); i++ {
		if r.IntN(4) == 0 && evs[i].t-evs[i-1].t < 3000 {
			evs[i], evs[i-1] = evs[i-1], evs[i]
		}
	}
	return evs
}

func (e *ev) event() *event.Event {
	class := event.OK
	switch {
	case e.status >= 500:
		class = event.ServerError
	case e.status >= 400:
		class = event.ClientError
	}
	return &event.Event{Time: e.t, Value: e.latency, HasValue: e.hasValue, Status: e.status, Class: class,
		Dims: [][]byte{[]byte(e.dims[0]), []byte(e.dims[1]), []byte(e.dims[2])}}
}

// partitionOf routes a key to a stage-2 task as the repartition topic would:
// one owner per key.
func partitionOf(e *ev, parts int) int {
	h := fnv.New32a()
	h.Write([]byte(e.dims[0]))
	return int(h.Sum32() % uint32(parts))
}

// runPipeline feeds events through one real engine per partition, flushing
// every flushEvery events into that partition's store as a stage-2 task
// commits (the windows that closed merged into their rollup windows in the
// same write), and returns the sources with each task's stream time.
func runPipeline(t testing.TB, c *config.Config, stores []store.Store, evs []ev, flushEvery int) []Source {
	t.Helper()
	type task struct {
		eng   *engine.Engine
		st    store.Store
		n     int
		batch store.Batch
	}
	tasks := make([]*task, len(stores))
	merger := rollup.NewMerger(c)
	for i, s := range stores {
		tk := &task{st: s}
		tk.eng = engine.NewWithOptions(c, engine.Options{LoadTotal: func(agg int, group []byte) (aggregate.Value, error) {
			var v aggregate.Value
			b, ok, err := s.Get(store.Key{Agg: c.Aggregations[agg].Name, Group: group, Start: engine.TotalStart})
			if err != nil || !ok {
				return v, err
			}
			return v, v.UnmarshalBinary(b)
		}})
		tasks[i] = tk
	}
	commit := func(tk *task) {
		f := tk.eng.Flush()
		if err := tk.eng.Err(); err != nil {
			t.Fatal(err)
		}
		tk.batch.Reset()
		for _, ch := range f.Changes {
			k := store.Key{Agg: c.Aggregations[ch.Agg].Name, Group: []byte(ch.Group), Start: ch.Start}
			if ch.Value.Agg == nil {
				tk.batch.Delete(k)
				continue
			}
			b, err := ch.Value.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			tk.batch.Put(k, b)
		}
		if err := merger.Merge(f.Closed, tk.st.Get, func(_ rollup.Level, k store.Key, _, value []byte) error {
			tk.batch.Put(k, value)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := tk.st.Write(&tk.batch); err != nil {
			t.Fatal(err)
		}
	}
	for i := range evs {
		tk := tasks[partitionOf(&evs[i], len(tasks))]
		if late := tk.eng.Process(evs[i].event()); late != 0 {
			t.Fatalf("event %d (t=%d) late", i, evs[i].t)
		}
		if tk.n++; tk.n%flushEvery == 0 {
			commit(tk)
		}
	}
	srcs := make([]Source, len(tasks))
	for i, tk := range tasks {
		commit(tk)
		srcs[i] = Source{Partition: int32(i), Store: tk.st, StreamTime: tk.eng.StreamTime()}
	}
	return srcs
}

// refPoint is the brute-force answer for one series and step.
type refPoint struct {
	count, cerr, serr, values uint64
	sum, min, max             float64
	vals                      []float64
}

// reference computes a range answer from raw events, independently of the
// code under test: a tumbling window of size starts at floor(t/size)*size.
func reference(evs []ev, size int64, match func(*ev) bool, by []int, from, to, step int64) map[string]map[int64]*refPoint {
	out := map[string]map[int64]*refPoint{}
	for i := range evs {
		e := &evs[i]
		ws := e.t - ((e.t%size)+size)%size
		if ws < from || ws >= to || !match(e) {
			continue
		}
		key := ""
		for _, d := range by {
			key += e.dims[d] + "|"
		}
		ps := out[key]
		if ps == nil {
			ps = map[int64]*refPoint{}
			out[key] = ps
		}
		bs := from + (ws-from)/step*step
		p := ps[bs]
		if p == nil {
			p = &refPoint{min: math.Inf(1), max: math.Inf(-1)}
			ps[bs] = p
		}
		p.count++
		switch {
		case e.status >= 500:
			p.serr++
		case e.status >= 400:
			p.cerr++
		}
		if e.hasValue {
			p.values++
			p.sum += e.latency
			p.min = min(p.min, e.latency)
			p.max = max(p.max, e.latency)
			p.vals = append(p.vals, e.latency)
		}
	}
	return out
}

// exactQuantile is the value of rank max(1, ceil(q·n)), the sketch's definition.
func exactQuantile(vals []float64, q float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	r := int(math.Ceil(q * float64(len(s))))
	r = min(max(r, 1), len(s))
	return s[r-1]
}

// checkPoint compares a point with the reference: counts exact, sum to float
// rounding, quantiles within the sketch's relative error.
func checkPoint(t *testing.T, where string, p *Point, ref *refPoint, qs []float64) {
	t.Helper()
	a := p.Agg
	if a.Count != ref.count || a.ClientErrors != ref.cerr || a.ServerErrors != ref.serr || a.Values != ref.values {
		t.Errorf("%s: count/4xx/5xx/values = %d/%d/%d/%d, want %d/%d/%d/%d", where,
			a.Count, a.ClientErrors, a.ServerErrors, a.Values, ref.count, ref.cerr, ref.serr, ref.values)
		return
	}
	if math.Abs(a.Sum-ref.sum) > 1e-9*math.Max(1, math.Abs(ref.sum)) {
		t.Errorf("%s: sum %v, want %v", where, a.Sum, ref.sum)
	}
	if ref.values > 0 && (a.Min != ref.min || a.Max != ref.max) {
		t.Errorf("%s: min/max %v/%v, want %v/%v", where, a.Min, a.Max, ref.min, ref.max)
	}
	bound := sketch.RelativeError(sketch.DefaultSchema)
	for _, q := range qs {
		got := p.Value(Measure{Kind: Quantile, Q: q})
		if ref.values == 0 {
			if !math.IsNaN(got) {
				t.Errorf("%s: q%v = %v over no values, want NaN", where, q, got)
			}
			continue
		}
		want := exactQuantile(ref.vals, q)
		if math.Abs(got-want) > bound*math.Abs(want)+1e-15 {
			t.Errorf("%s: q%v = %v, exact %v: off by %.3g%%, bound %.3g%%", where, q, got, want,
				100*math.Abs(got-want)/want, 100*bound)
		}
	}
}

func mustRange(t testing.TB, l *Local, srcs []Source, q RangeQuery) *RangeResult {
	t.Helper()
	r, err := l.Range(context.Background(), srcs, q)
	if err != nil {
		t.Fatalf("Range(%+v): %v", q, err)
	}
	return r
}

func keyOf(k []string) string {
	s := ""
	for _, v := range k {
		s += v + "|"
	}
	return s
}

func dimIndex(name string) int {
	return slices.Index([]string{"endpoint", "method", "region"}, name)
}

func (p refPoint) String() string { return fmt.Sprintf("%d events", p.count) }
