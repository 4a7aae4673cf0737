package combine

import (
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
	"github.com/kwindow/kwindow/exporter/internal/windowref"
	"github.com/kwindow/kwindow/exporter/sketch"
)

const base = 1_764_000_000_000 // a whole minute

// testConfig has one aggregation of each window kind, hopping twice (size a multiple
// of the advance, and not), and one more hopping with no value statistics.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: tumbling, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5, 0.99]}
  - {name: hopping, group_by: [endpoint, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
  - {name: hopping_odd, group_by: [region], window: {type: hopping, size: 25s, advance: 10s}, grace: 5s, quantiles: [0.9]}
  - {name: session, group_by: [endpoint], window: {type: session, gap: 20s}, grace: 5s, quantiles: [0.5]}
  - {name: sliding, group_by: [region, method], window: {type: sliding, size: 10s}, grace: 5s}
  - {name: counts, group_by: [endpoint, status], window: {type: hopping, size: 1m, advance: 20s}, grace: 10s, measures: [count, errors]}
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	regions  = []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"}
	methods  = []string{"GET", "POST"}
	statuses = []int{200, 200, 200, 201, 404, 429, 500, 503}
)

// newEvent builds a default-schema event: dims endpoint, method, status, region.
func newEvent(rng *rand.Rand, ts int64, endpoint string) *event.Event {
	status := statuses[rng.IntN(len(statuses))]
	class := event.OK
	switch {
	case status >= 500:
		class = event.ServerError
	case status >= 400:
		class = event.ClientError
	}
	ev := &event.Event{Time: ts, Status: status, Class: class, Dims: [][]byte{
		[]byte(endpoint), []byte(methods[rng.IntN(len(methods))]),
		[]byte(fmt.Sprint(status)), []byte(regions[rng.IntN(len(regions))]),
	}}
	if rng.IntN(20) != 0 {
		ev.Value, ev.HasValue = math.Exp(rng.NormFloat64())*0.02, true
	}
	return ev
}

// inOrderEvents are n events over 300 endpoints, about 30 ms apart, each late by
// less than 4 s (every grace is at least 5 s), on multiples of 20 ms so that
// sliding keys have events of the same millisecond. Endpoint j is silent one minute
// in three, so sessions end and start again.
func inOrderEvents(seed uint64, n int) []*event.Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]*event.Event, n)
	for i := range out {
		ts := base + int64(i)*30 + int64(rng.IntN(3980))
		ts -= ts % 20
		j := rng.IntN(300)
		if ((ts-base)/60000+int64(j))%3 == 0 {
			j = (j + 1) % 300
		}
		out[i] = newEvent(rng, ts, fmt.Sprintf("/e%03d", j))
	}
	return out
}

// partitioner assigns the i-th event to one of n input partitions.
type partitioner struct {
	name string
	fn   func(i int, ev *event.Event, n int) int
}

func hashOf(b []byte, n int) int {
	h := fnv.New32a()
	h.Write(b)
	return int(h.Sum32() % uint32(n))
}

var partitioners = []partitioner{
	{"endpoint", func(_ int, ev *event.Event, n int) int { return hashOf(ev.Dims[0], n) }},
	{"region", func(_ int, ev *event.Event, n int) int { return hashOf(ev.Dims[3], n) }},
	{"round-robin", func(i int, _ *event.Event, n int) int { return i % n }},
}

// record is one repartition record.
type record struct{ key, value []byte }

// pipeline runs both stages in memory: one combiner per input partition, one
// engine per repartition partition, every record encoded and decoded.
type pipeline struct {
	t         testing.TB
	cfg       *config.Config
	combiners []*Combiner
	shared    []*Combiner // non-empty: the combiners the inputs share (ProcessAt), as an instance's lanes run them
	engines   []*engine.Engine
	stores    []map[string]aggregate.Value // per engine: running totals, as committed
	queues    [][]record                   // per repartition partition, in produce order
	marks     [][]int64                    // per repartition partition, per source: latest watermark
	results   map[windowref.Key]aggregate.Value
	dupes     int
	inLate    []uint64 // per aggregation: events Process reported late
	processed []windowref.Event
	maxTime   []int64 // per input partition: the largest event time so far
}

// newPipeline runs one combiner per input when lanes is 0. Otherwise the inputs
// share lanes combiners, input i feeding lane i % lanes, absorbed into the first
// before each flush, as the runtime's processing lanes do.
func newPipeline(t testing.TB, cfg *config.Config, inputs, repartitions, lanes int) *pipeline {
	p := &pipeline{t: t, cfg: cfg, results: map[windowref.Key]aggregate.Value{}, inLate: make([]uint64, len(cfg.Aggregations))}
	for range lanes {
		p.shared = append(p.shared, New(cfg))
	}
	for range inputs {
		p.combiners = append(p.combiners, New(cfg))
		p.maxTime = append(p.maxTime, math.MinInt64)
	}
	for r := range repartitions {
		st := map[string]aggregate.Value{}
		p.stores = append(p.stores, st)
		p.engines = append(p.engines, engine.NewWithOptions(cfg, engine.Options{
			LoadTotal: func(agg int, group []byte) (aggregate.Value, error) {
				v, ok := st[fmt.Sprint(agg, "|", string(group))]
				if ok {
					v.Agg = v.Agg.Clone()
				}
				return v, nil
			},
		}))
		p.queues = append(p.queues, nil)
		marks := make([]int64, inputs)
		for i := range marks {
			marks[i] = engine.NoTime
		}
		p.marks = append(p.marks, marks)
		_ = r
	}
	return p
}

// process runs events through input partition in's combiner. It records for each
// event the stream time it is processed at, the largest event time of the
// partition so far, and checks what Process says against the lateness rules.
func (p *pipeline) process(in int, evs []*event.Event) []uint64 {
	c := p.combiners[in]
	masks := make([]uint64, len(evs))
	for i, ev := range evs {
		p.maxTime[in] = max(p.maxTime[in], ev.Time)
		s := p.maxTime[in]
		if p.shared != nil {
			masks[i] = p.shared[in%len(p.shared)].ProcessAt(ev, s)
			c.AdvanceTo(s) // the task's own stream time, which the runtime keeps
		} else {
			masks[i] = c.Process(ev)
		}
		if c.StreamTime() != s {
			p.t.Fatalf("stream time %d, want %d", c.StreamTime(), s)
		}
		p.processed = append(p.processed, windowref.Event{Event: ev, StreamTime: s})
		for a := range p.inLate {
			want := windowref.Late(&p.cfg.Aggregations[a], ev.Time, s)
			if got := masks[i]&(1<<a) != 0; got != want {
				p.t.Errorf("%s: event at %d processed at %d: late %v, want %v", p.cfg.Aggregations[a].Name, ev.Time, s, got, want)
			}
			if masks[i]&(1<<a) != 0 {
				p.inLate[a]++
			}
		}
	}
	return masks
}

// commit flushes input partition in's combiner: its deltas, then its watermark to
// every repartition partition.
func (p *pipeline) commit(in int) {
	c, n := p.combiners[in], int32(len(p.queues))
	source := int32(in)
	if p.shared != nil {
		// The runtime flushes the shared combiner once per interval, before any
		// input's watermark: every input's watermark then follows the deltas.
		for _, o := range p.shared[1:] {
			p.shared[0].Absorb(o)
		}
		c, source = p.shared[0], -1
	}
	c.Flush(func(d *Delta) {
		key := AppendDeltaKey(nil, p.cfg.Aggregations[d.Agg].Name, d.Group)
		value, err := AppendDeltaValue(nil, source, d)
		if err != nil {
			p.t.Fatal(err)
		}
		if len(key)+len(value) > MaxRecordBytes {
			p.t.Fatalf("record of %d bytes", len(key)+len(value))
		}
		r := Partition(key, n)
		p.queues[r] = append(p.queues[r], record{key, value})
	})
	for r := range p.queues {
		key, value := AppendWatermark(nil, nil, int32(in), p.combiners[in].StreamTime())
		p.queues[r] = append(p.queues[r], record{key, value})
	}
}

// drain has every stage-2 engine apply its queue, moving its stream time to the
// minimum of its sources' watermarks after each watermark, then flush.
func (p *pipeline) drain() {
	aggIndex := map[string]int{}
	for i, a := range p.cfg.Aggregations {
		aggIndex[a.Name] = i
	}
	for r, e := range p.engines {
		var rec Record
		for _, q := range p.queues[r] {
			if err := DecodeRecord(q.key, q.value, &rec); err != nil {
				p.t.Fatal(err)
			}
			if rec.Watermark {
				p.marks[r][rec.Source] = max(p.marks[r][rec.Source], rec.StreamTime)
				e.AdvanceTo(slices.Min(p.marks[r]))
				continue
			}
			ai, ok := aggIndex[rec.AggName]
			if !ok {
				p.t.Fatalf("unknown aggregation %q", rec.AggName)
			}
			if got := Partition(q.key, int32(len(p.engines))); got != int32(r) {
				p.t.Fatalf("delta of partition %d read from %d", got, r)
			}
			for i := range rec.Delta.Parts {
				if e.Merge(ai, rec.Delta.Group, &rec.Delta.Parts[i]) {
					p.t.Errorf("%s: part %+v of %q from source %d merged late at stream time %d",
						rec.AggName, rec.Delta.Parts[i], rec.Delta.Group, rec.Source, e.StreamTime())
				}
			}
		}
		p.queues[r] = p.queues[r][:0]
		f := e.Flush()
		for _, ch := range f.Changes {
			if ch.Start == engine.TotalStart {
				p.stores[r][fmt.Sprint(ch.Agg, "|", ch.Group)] = aggregate.Value{End: ch.Value.End, Last: ch.Value.Last, Agg: ch.Value.Agg.Clone()}
			}
		}
		for _, ch := range f.Closed {
			k := windowref.Key{Agg: p.cfg.Aggregations[ch.Agg].Name, Group: ch.Group, Start: ch.Start, End: ch.Value.End}
			if _, ok := p.results[k]; ok {
				p.dupes++
			}
			p.results[k] = aggregate.Value{End: ch.Value.End, Last: ch.Value.Last, Agg: ch.Value.Agg.Clone()}
		}
	}
}

// run feeds each input partition's events in rounds of every[in] events, commits
// and drains after each round, then moves every source's watermark past
// everything.
func (p *pipeline) run(inputs [][]*event.Event, every []int) [][]uint64 {
	masks := make([][]uint64, len(inputs))
	pos := make([]int, len(inputs))
	for more := true; more; {
		more = false
		for in := range inputs {
			end := min(pos[in]+every[in], len(inputs[in]))
			masks[in] = append(masks[in], p.process(in, inputs[in][pos[in]:end])...)
			pos[in] = end
			more = more || end < len(inputs[in])
			if p.shared == nil {
				p.commit(in)
			}
		}
		if p.shared != nil {
			// One interval of the instance: every input processed, then the
			// shared deltas (flushed by the first commit), then each watermark.
			for in := range inputs {
				p.commit(in)
			}
		}
		p.drain()
	}
	for in, c := range p.combiners {
		c.AdvanceTo(math.MaxInt64 / 2)
		p.commit(in)
	}
	p.drain()
	return masks
}

// totals returns the running totals every engine committed.
func (p *pipeline) totals() map[windowref.TotalKey]aggregate.Value {
	out := map[windowref.TotalKey]aggregate.Value{}
	for r, st := range p.stores {
		for k, v := range st {
			var ai int
			var group string
			fmt.Sscanf(k, "%d|", &ai)
			group = k[len(fmt.Sprint(ai))+1:]
			tk := windowref.TotalKey{Agg: p.cfg.Aggregations[ai].Name, Group: group}
			if _, ok := out[tk]; ok {
				p.t.Errorf("total of %q in two stage-2 partitions (%d and another)", tk, r)
			}
			out[tk] = v
		}
	}
	return out
}

// check compares what the pipeline produced with the reference.
func (p *pipeline) check(name string) {
	t := p.t
	ref := windowref.Compute(p.cfg, p.processed)
	windows, late := ref.Windows, ref.Late
	if p.dupes != 0 {
		t.Errorf("%s: %d windows published more than once", name, p.dupes)
	}
	for k, want := range windows {
		got, ok := p.results[k]
		if !ok {
			t.Errorf("%s: window %s %q [%d,%d) missing", name, k.Agg, k.Group, k.Start, k.End)
			continue
		}
		compare(t, fmt.Sprintf("%s: window %s %q [%d,%d)", name, k.Agg, k.Group, k.Start, k.End), got, want, p.needsValue(k.Agg))
	}
	for k := range p.results {
		if _, ok := windows[k]; !ok {
			t.Errorf("%s: unexpected window %s %q [%d,%d) (%d events)", name, k.Agg, k.Group, k.Start, k.End, p.results[k].Agg.Count)
		}
	}
	gotTotals := p.totals()
	for k, want := range ref.Totals {
		got, ok := gotTotals[k]
		if !ok {
			t.Errorf("%s: total of %s %q missing", name, k.Agg, k.Group)
			continue
		}
		compare(t, fmt.Sprintf("%s: total of %s %q", name, k.Agg, k.Group), got, want, p.needsValue(k.Agg))
	}
	if len(gotTotals) != len(ref.Totals) {
		t.Errorf("%s: %d totals, want %d", name, len(gotTotals), len(ref.Totals))
	}
	for i := range p.cfg.Aggregations {
		var st Stats
		for _, c := range p.combiners {
			st.Late += c.Stats(i).Late
		}
		for _, c := range p.shared {
			st.Late += c.Stats(i).Late
		}
		if st.Late != late[i] || p.inLate[i] != late[i] {
			t.Errorf("%s: %s: Stats.Late %d, Process said late %d times, want %d", name, p.cfg.Aggregations[i].Name, st.Late, p.inLate[i], late[i])
		}
		for _, e := range p.engines {
			if s := e.Stats(i); s.LateMerges != 0 || s.Overflowed != 0 || s.Late != 0 {
				t.Errorf("%s: %s: stage 2 stats %+v", name, p.cfg.Aggregations[i].Name, s)
			}
		}
	}
}

func (p *pipeline) needsValue(agg string) bool {
	for i := range p.cfg.Aggregations {
		if a := &p.cfg.Aggregations[i]; a.Name == agg {
			return a.NeedsValue()
		}
	}
	p.t.Fatalf("no aggregation %q", agg)
	return false
}

// compare checks an aggregate against the reference: counts exact, sum to
// rounding, min, max and latest time exact, quantiles within the sketch's bound.
// Without values (an aggregation that needs none), stage 1 ships none: the
// aggregate must have no value statistics at all.
func compare(t testing.TB, what string, got aggregate.Value, want *windowref.Agg, values bool) {
	t.Helper()
	a := got.Agg
	if !values {
		if a.Values != 0 || a.Sum != 0 || !math.IsInf(a.Min, 1) || !math.IsInf(a.Max, -1) || a.Sketch != nil {
			t.Errorf("%s: value statistics %d/%v/%v/%v (sketch %v) for an aggregation without", what, a.Values, a.Sum, a.Min, a.Max, a.Sketch != nil)
		}
		w := *want
		w.Values, w.Sum, w.Min, w.Max, w.Vals = 0, 0, math.Inf(1), math.Inf(-1), nil
		want = &w
	}
	if a.Count != want.Count || a.ClientErrors != want.ClientErrors || a.ServerErrors != want.ServerErrors || a.Values != want.Values {
		t.Errorf("%s: counts %d/%d/%d/%d, want %d/%d/%d/%d", what, a.Count, a.ClientErrors, a.ServerErrors, a.Values,
			want.Count, want.ClientErrors, want.ServerErrors, want.Values)
		return
	}
	if math.Abs(a.Sum-want.Sum) > 1e-9*math.Abs(want.Sum)+1e-12 || a.Min != want.Min || a.Max != want.Max {
		t.Errorf("%s: sum/min/max %v/%v/%v, want %v/%v/%v", what, a.Sum, a.Min, a.Max, want.Sum, want.Min, want.Max)
	}
	if got.Last != want.Last {
		t.Errorf("%s: last %d, want %d", what, got.Last, want.Last)
	}
	if a.Sketch == nil || len(want.Vals) == 0 {
		return
	}
	bound := sketch.RelativeError(a.Sketch.Schema())
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99} {
		exact, est := want.Quantile(q), a.Quantile(q)
		if math.Abs(est-exact) > bound*math.Abs(exact)+1e-15 {
			t.Errorf("%s: q%v = %v, exact %v: beyond the sketch's bound %v", what, q, est, exact, bound)
		}
	}
}

// TestPipeline runs the two stages over events within grace, partitioned three
// ways over 1 and 6 input partitions and 1, 3 and 6 repartition partitions: every
// window and running total must match the brute-force reference, whatever the
// partitioning, with no event late anywhere.
func TestPipeline(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 3000
	}
	events := inOrderEvents(1, n)
	cfg := testConfig(t)
	var first map[windowref.Key]aggregate.Value
	for _, inputs := range []int{1, 6} {
		for _, pt := range partitioners {
			for _, reps := range []int{1, 3, 6} {
				name := fmt.Sprintf("%d inputs by %s, %d repartitions", inputs, pt.name, reps)
				parts := make([][]*event.Event, inputs)
				for i, ev := range events {
					in := pt.fn(i, ev, inputs)
					parts[in] = append(parts[in], ev)
				}
				every := make([]int, inputs)
				for i := range every {
					every[i] = 97 + 61*i // commit intervals of different lengths
				}
				p := newPipeline(t, cfg, inputs, reps, 0)
				p.run(parts, every)
				p.check(name)
				if inputs > 1 && reps == 3 {
					// Combiners shared by the inputs, as an instance runs them:
					// one, or one per processing lane, absorbed before each flush.
					for _, lanes := range []int{1, 2, 4} {
						ps := newPipeline(t, cfg, inputs, reps, lanes)
						ps.run(parts, every)
						ps.check(fmt.Sprintf("%s, %d shared combiners", name, lanes))
					}
				}
				if first == nil {
					first = p.results
					continue
				}
				if len(p.results) != len(first) {
					t.Errorf("%s: %d results, %d with the first partitioning", name, len(p.results), len(first))
				}
				for k, v := range p.results {
					w, ok := first[k]
					if ok && (v.Agg.Count != w.Agg.Count || v.Agg.Sketch != nil && math.Float64bits(v.Agg.Quantile(0.5)) != math.Float64bits(w.Agg.Quantile(0.5))) {
						t.Errorf("%s: %v differs from the first partitioning", name, k)
					}
				}
			}
		}
	}
}
