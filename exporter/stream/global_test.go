package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/internal/windowref"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// globalConfig has one aggregation of each window kind, keyed by endpoint or by
// region, so that every partitioner splits some keys over several partitions.
func globalConfig(t *testing.T, addr string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5, 0.99]}
  - {name: region_5m, group_by: [region, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s, quantiles: [0.9]}
  - {name: endpoint_session, group_by: [endpoint], window: {type: session, gap: 20s}, grace: 5s, quantiles: [0.5]}
  - {name: region_sliding, group_by: [region, method], window: {type: sliding, size: 10s}, grace: 5s}
kafka: {brokers: [%q], fetch_max_wait: 10ms}
stream: {application_id: global, instance_id: a, input_topic: %s, late_topic: global-late, commit_interval: 10ms, idle_timeout: 0s}
state: {dir: %q}
`, addr, input, t.TempDir())
	c, err := config.Parse("global.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// globalEvent is one input event as produced.
type globalEvent struct {
	endpoint, region string
	payload          []byte
}

// globalEvents are the test's events, in produce order: n events over 40
// endpoints and 4 regions, 400 ms apart, each up to 3 s out of order, within
// every grace (at least 5 s) of every partition's stream time, since no
// partition's stream time is ahead of the largest event time so far. Endpoint j
// is silent one minute in three, so sessions end and start again. Late on
// purpose, and late for the same windows whatever the partitioning:
//   - about one in 40 events set back 25 to 250 s, only where no window closes
//     within 20 s of its place in the stream (a partition's stream time lags the
//     largest event time by less than that): late for every session and sliding
//     window, for some tumbling and hopping windows, for some but not all of the
//     hopping windows of an event.
//   - every 300 events, a burst of one event per endpoint (regions in turn) at
//     one time X ahead of every event so far, which puts every partition an
//     event can go to at stream time X whatever the partitioning, then 3 events
//     6 to 15 s before X: late for their sliding window by its left window only,
//     past the grace (5 s) and not past size + grace (16 s).
func globalEvents(base int64, n int) (evs []globalEvent, last int64) {
	rng := rand.New(rand.NewPCG(8, 13))
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "ap-south-1"}
	statuses := []int{200, 200, 200, 201, 404, 429, 500, 503}
	add := func(ts int64, j int, region string) {
		last = max(last, ts)
		ev := globalEvent{endpoint: fmt.Sprintf("/api/e%02d", j), region: region}
		ev.payload = fmt.Appendf(nil, `{"timestamp":%d,"endpoint":%q,"method":%q,"status":%d,"region":%q,"latency_ms":%g}`,
			ts, ev.endpoint, []string{"GET", "POST"}[rng.IntN(2)], statuses[rng.IntN(len(statuses))], ev.region,
			math.Round(math.Exp(rng.NormFloat64())*20*1000)/1000)
		evs = append(evs, ev)
	}
	for i := range n {
		at := int64(i) * 400
		ts := base + at + int64(rng.IntN(3000))
		j := rng.IntN(40)
		if ((ts-base)/minute+int64(j))%3 == 0 {
			j = (j + 1) % 40
		}
		// Tumbling and hopping windows close at 10 s past a minute; session and
		// sliding windows at the event's time + 5 s.
		if i > 300 && at%minute > 30000 && rng.IntN(20) == 0 {
			ts = base + at - 25000 - int64(rng.IntN(225000))
		}
		add(ts, j, regions[rng.IntN(len(regions))])
		if i%300 == 150 {
			x := base + at + 3000
			for j := range 40 {
				add(x, j, regions[j%len(regions)])
			}
			for range 3 {
				add(x-6000-int64(rng.IntN(9000)), rng.IntN(40), regions[rng.IntN(len(regions))])
			}
		}
	}
	return evs, last
}

// globalPartitioner is how the producer spreads events over partitions.
type globalPartitioner struct {
	name string
	key  func(*globalEvent) []byte
	opt  kgo.Opt
}

var globalPartitioners = []globalPartitioner{
	{"endpoint", func(e *globalEvent) []byte { return []byte(e.endpoint) }, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))},
	{"region", func(e *globalEvent) []byte { return []byte(e.region) }, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))},
	{"round-robin", func(*globalEvent) []byte { return nil }, kgo.RecordPartitioner(kgo.RoundRobinPartitioner())},
}

// globalResult is an output record: the fields the test checks, with its raw
// fields to check what is not there.
type globalResult struct {
	Aggregation  string             `json:"aggregation"`
	StartMs      int64              `json:"start_ms"`
	EndMs        int64              `json:"end_ms"`
	Key          map[string]string  `json:"key"`
	Count        uint64             `json:"count"`
	ClientErrors uint64             `json:"client_errors"`
	ServerErrors uint64             `json:"server_errors"`
	Sum          float64            `json:"sum"`
	Min          float64            `json:"min"`
	Max          float64            `json:"max"`
	Quantiles    map[string]float64 `json:"quantiles"`
}

// TestGlobalWindows is the acceptance test of global windows through the real
// runtime and a real Kafka protocol: one fixed event set, produced keyed by
// endpoint, keyed by region and round-robin, into an input topic of 1 and of 6
// partitions. In each run, every window of the four window kinds has exactly one
// output record, with counts, errors, sum, min and max exact and quantiles within
// the sketch's bound of the brute-force reference (package windowref, fed each
// event with its input partition's stream time); every running total is exact and
// held by one stage-2 task; the late topic holds exactly the events the lateness
// rules say, each naming exactly the aggregations it is late for. The events are
// late the same way under every partitioning, so the six outputs must be
// identical.
func TestGlobalWindows(t *testing.T) {
	base := (time.Now().UnixMilli() - 3*3600_000) / 3600_000 * 3600_000
	events, last := globalEvents(base, 3000)
	var first map[windowref.Key]globalResult
	var firstWant map[windowref.Key]*windowref.Agg
	var firstName string
	for _, parts := range []int32{1, 6} {
		for _, pt := range globalPartitioners {
			name := fmt.Sprintf("%d partitions by %s", parts, pt.name)
			// One run has fewer stage-2 tasks than input partitions.
			reps := int32(0)
			if parts == 6 && pt.name == "round-robin" {
				reps = 4
				name += ", 4 repartition partitions"
			}
			// Processing lanes (stream.threads): one per CPU by default, one,
			// and more than the machine has cores.
			threads := 0
			if parts == 6 && pt.name != "round-robin" {
				threads = map[string]int{"endpoint": 1, "region": 3}[pt.name]
				name += fmt.Sprintf(", %d threads", threads)
			}
			var got map[windowref.Key]globalResult
			var want map[windowref.Key]*windowref.Agg
			t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
				got, want = runGlobal(t, parts, reps, threads, pt, events, last)
			})
			if got == nil {
				continue
			}
			if first == nil {
				first, firstWant, firstName = got, want, name
				continue
			}
			// The premise: by the reference, the events are late the same way.
			if !sameCounts(want, firstWant) {
				t.Fatalf("the test's events are late differently by %s than by %s: fix globalEvents", name, firstName)
			}
			diff := 0
			for k, r := range first {
				g, ok := got[k]
				if ok && sameResult(g, r) {
					continue
				}
				if diff++; diff <= 5 {
					t.Errorf("%s: window %s %v [%d,%d) is %+v, with %s %+v", name, k.Agg, r.Key, k.Start, k.End, g, firstName, r)
				}
			}
			if diff > 0 || len(got) != len(first) {
				t.Errorf("%s: %d results, %d of them different from the %d of %s", name, len(got), diff, len(first), firstName)
			}
		}
	}
}

func sameCounts(a, b map[windowref.Key]*windowref.Agg) bool {
	for k, w := range a {
		if v, ok := b[k]; !ok || v.Count != w.Count {
			return false
		}
	}
	return len(a) == len(b)
}

// sameResult: identical but for the rounding of the sum, which depends on the
// order of additions.
func sameResult(a, b globalResult) bool {
	if math.Abs(a.Sum-b.Sum) > 1e-9*math.Abs(b.Sum) {
		return false
	}
	a.Sum = b.Sum
	return reflect.DeepEqual(a, b)
}

// runGlobal runs one partitioning and returns the output and the reference's
// closed windows.
func runGlobal(t *testing.T, parts, reps int32, threads int, pt globalPartitioner, events []globalEvent, last int64) (map[windowref.Key]globalResult, map[windowref.Key]*windowref.Agg) {
	start := time.Now()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, input), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the clients'
	addr := c.ListenAddrs()[0]
	cfg := globalConfig(t, addr)
	cfg.Stream.RepartitionPartitions = reps
	cfg.Stream.Threads = threads

	sink := &globalSink{cfg: cfg, totals: map[windowref.TotalKey]aggregate.Value{}, owner: map[windowref.TotalKey]int32{}}
	var mu sync.Mutex
	results := 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rt, err := New(ctx, cfg, Options{Sink: sink, OnResults: func(r []Result) {
		mu.Lock()
		results += len(r)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	// The events go out in chunks once the runtime is ready, so that they spread
	// over many commit intervals: windows close, and events turn late, along the
	// way.
	for ready, why := rt.Ready(); !ready; ready, why = rt.Ready() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("runtime not ready after 30 s: %s", why)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rs := make([]*kgo.Record, len(events))
	for i := range events {
		rs[i] = &kgo.Record{Topic: input, Key: pt.key(&events[i]), Value: events[i].payload}
	}
	prod := client(t, addr, pt.opt)
	for chunk := range slices.Chunk(rs, 25) {
		produce(t, prod, chunk)
		time.Sleep(10 * time.Millisecond)
	}
	// Then, on every partition, one event far ahead: its stream time passes the
	// close of every window of the events above.
	far := last + 30*minute
	closing := make([]*kgo.Record, parts)
	for p := range parts {
		closing[p] = &kgo.Record{Topic: input, Partition: p, Value: fmt.Appendf(nil,
			`{"timestamp":%d,"endpoint":"/close","method":"GET","status":200,"region":"close","latency_ms":1}`, far)}
	}
	produce(t, client(t, addr), closing)
	rs = append(rs, closing...)

	ref, late, partly, band := globalReference(t, cfg, rs)
	if len(late) < 40 || partly < 10 || band < 20 {
		t.Errorf("%d late events, %d late for some hopping windows and not others, %d sliding ones by their left window only: the test needs more",
			len(late), partly, band)
	}
	want := map[windowref.Key]*windowref.Agg{}
	for k, w := range ref.Windows {
		if k.Start <= last { // the far events' windows stay open
			want[k] = w
		}
	}

	// Wait for every result and total. Once the totals are complete, stage 2 has
	// merged the far events, and their watermarks come in the same transactions:
	// the last windows close within a few commit intervals.
	deadline := time.Now().Add(45 * time.Second)
	var settled time.Time
	for ; ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := results
		mu.Unlock()
		complete := sink.complete(ref.Totals)
		if n >= len(want) && complete {
			break
		}
		if complete && settled.IsZero() {
			settled = time.Now()
		}
		if time.Now().After(deadline) || !settled.IsZero() && time.Since(settled) > 5*time.Second {
			t.Errorf("%d results of %d after %v, totals complete: %v", n, len(want), time.Since(start).Round(time.Millisecond), complete)
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ran := time.Since(start)

	bound := sketch.RelativeError(*cfg.Sketch.Schema)
	got := checkOutput(t, cfg, readToEnd(t, addr, cfg.Stream.OutputTopic), want, bound)
	checkLate(t, readToEnd(t, addr, cfg.Stream.LateTopic), late)
	sink.check(t, ref.Totals, bound)
	lateN := 0
	for _, n := range ref.Late {
		lateN += int(n)
	}
	t.Logf("%d events, %d windows, %d totals, %d late events (%d partly for hopping, %d sliding by the left window; %d event-aggregation pairs); %d transactions in %v",
		len(rs), len(want), len(ref.Totals), len(late), partly, band, lateN, sink.txns, ran.Round(time.Millisecond))
	if reps > 0 {
		td, err := kadm.NewClient(client(t, addr)).ListTopics(context.Background(), cfg.RepartitionTopic(), cfg.ChangelogTopic("endpoint_1m"))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range td.Sorted() {
			if len(d.Partitions) != int(reps) {
				t.Errorf("%s has %d partitions, stream.repartition_partitions is %d", d.Topic, len(d.Partitions), reps)
			}
		}
	}
	return got, want
}

// globalReference decodes the produced records and computes the expected results
// and late records (by partition/offset, the aggregations each is late for), each
// event at its partition's stream time: the largest event time of the partition
// up to its offset. It counts the events late for some hopping windows and not
// for others, which still reach those (partly), and the sliding events late by
// their left window only (band), which Kafka Streams' rule would not call late.
func globalReference(t *testing.T, cfg *config.Config, rs []*kgo.Record) (ref windowref.Results, late map[string]string, partly, band int) {
	t.Helper()
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b *kgo.Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	dec, err := event.NewDecoder(cfg.EventSchema())
	if err != nil {
		t.Fatal(err)
	}
	var evs []windowref.Event
	late = map[string]string{}
	s := map[int32]int64{}
	for _, r := range rs {
		ev := &event.Event{}
		if err := dec.DecodeRecord(r.Value, r.Timestamp.UnixMilli(), ev); err != nil {
			t.Fatalf("event %s: %v", r.Value, err)
		}
		for i, d := range ev.Dims {
			ev.Dims[i] = slices.Clone(d)
		}
		if cur, ok := s[r.Partition]; !ok || ev.Time > cur {
			s[r.Partition] = ev.Time
		}
		evs = append(evs, windowref.Event{Event: ev, StreamTime: s[r.Partition]})
		var names []string
		for i := range cfg.Aggregations {
			a := &cfg.Aggregations[i]
			if !windowref.Late(a, ev.Time, s[r.Partition]) {
				continue
			}
			names = append(names, a.Name)
			size, adv := a.Window.Size.Millis(), a.Window.Advance.Millis()
			switch grace := a.Grace.Millis(); {
			case a.Window.Type == "hopping" && ev.Time/adv*adv+size+grace > s[r.Partition]: // its last window is open
				partly++
			case a.Window.Type == "sliding" && ev.Time+size+1+grace > s[r.Partition]: // its right window is open
				band++
			}
		}
		if names != nil {
			late[fmt.Sprint(r.Partition, "/", r.Offset)] = strings.Join(names, ",")
		}
	}
	return windowref.Compute(cfg, evs), late, partly, band
}

// checkOutput compares the output topic with the reference and returns it.
func checkOutput(t *testing.T, cfg *config.Config, out []*kgo.Record, want map[windowref.Key]*windowref.Agg, bound float64) map[windowref.Key]globalResult {
	t.Helper()
	got := map[windowref.Key]globalResult{}
	aggs := map[string]*config.Aggregation{}
	for i := range cfg.Aggregations {
		aggs[cfg.Aggregations[i].Name] = &cfg.Aggregations[i]
	}
	bad := 0
	errorf := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range out {
		var fields map[string]json.RawMessage
		var res globalResult
		if err := json.Unmarshal(r.Value, &fields); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		if err := json.Unmarshal(r.Value, &res); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		if _, ok := fields["partition"]; ok {
			errorf("output %s: a partition field, though windows are global", r.Value)
		}
		a := aggs[res.Aggregation]
		if a == nil {
			t.Fatalf("output %s: unknown aggregation", r.Value)
		}
		var vals [][]byte
		for _, g := range a.GroupBy {
			vals = append(vals, []byte(res.Key[g]))
		}
		k := windowref.Key{Agg: a.Name, Group: string(store.AppendGroup(nil, vals...)), Start: res.StartMs, End: res.EndMs}
		if _, dup := got[k]; dup {
			errorf("window %s %v [%d,%d) published twice", a.Name, res.Key, k.Start, k.End)
		}
		got[k] = res
		w, ok := want[k]
		if !ok {
			errorf("window %s %v [%d,%d) published, with %d events, but not in the reference", a.Name, res.Key, k.Start, k.End, res.Count)
			continue
		}
		what := fmt.Sprintf("window %s %v [%d,%d)", a.Name, res.Key, k.Start, k.End)
		if res.Count != w.Count || res.ClientErrors != w.ClientErrors || res.ServerErrors != w.ServerErrors {
			errorf("%s: count/4xx/5xx %d/%d/%d, want %d/%d/%d", what, res.Count, res.ClientErrors, res.ServerErrors, w.Count, w.ClientErrors, w.ServerErrors)
			continue
		}
		if math.Abs(res.Sum-w.Sum) > 1e-9*math.Abs(w.Sum) || res.Min != w.Min || res.Max != w.Max {
			errorf("%s: sum/min/max %v/%v/%v, want %v/%v/%v", what, res.Sum, res.Min, res.Max, w.Sum, w.Min, w.Max)
		}
		if len(res.Quantiles) != len(a.Quantiles) {
			errorf("%s: quantiles %v, want %v", what, res.Quantiles, a.Quantiles)
		}
		for _, q := range a.Quantiles {
			est, exact := res.Quantiles[strconv.FormatFloat(q, 'g', -1, 64)], w.Quantile(q)
			if math.Abs(est-exact) > bound*exact {
				errorf("%s: q%v = %v, exact %v: beyond the sketch's bound %v", what, q, est, exact, bound)
			}
		}
	}
	missing := 0
	for k, w := range want {
		if _, ok := got[k]; !ok {
			if missing++; missing <= 5 {
				t.Errorf("window %s %q [%d,%d) with %d events never published", k.Agg, k.Group, k.Start, k.End, w.Count)
			}
		}
	}
	if missing > 0 || bad > 0 {
		t.Errorf("%d output records for %d windows: %d windows missing, %d records wrong", len(out), len(want), missing, bad)
	}
	return got
}

// checkLate compares the late topic with the events late by the rules.
func checkLate(t *testing.T, out []*kgo.Record, want map[string]string) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range out {
		id := header(r, HeaderPartition) + "/" + header(r, HeaderOffset)
		w, ok := want[id]
		switch {
		case seen[id]:
			t.Errorf("late record of %s written twice", id)
		case !ok:
			t.Errorf("event %s (%s) in the late topic, late for %q, but late for nothing", id, r.Value, header(r, HeaderLateFor))
		case header(r, HeaderLateFor) != w:
			t.Errorf("event %s late for %q, want %q", id, header(r, HeaderLateFor), w)
		}
		seen[id] = true
	}
	for id, w := range want {
		if !seen[id] {
			t.Errorf("event %s, late for %s, not in the late topic", id, w)
		}
	}
}

// globalSink keeps the latest committed running total of each key, and which
// stage-2 task committed it.
type globalSink struct {
	cfg    *config.Config
	mu     sync.Mutex
	totals map[windowref.TotalKey]aggregate.Value
	owner  map[windowref.TotalKey]int32
	moved  []string
	txns   int // committed transactions
}

func (s *globalSink) set(p int32, cs []engine.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cs {
		k := windowref.TotalKey{Agg: s.cfg.Aggregations[c.Agg].Name, Group: c.Group}
		if o, ok := s.owner[k]; ok && o != p {
			s.moved = append(s.moved, fmt.Sprintf("%s %q in partitions %d and %d", k.Agg, k.Group, o, p))
		}
		s.owner[k] = p
		s.totals[k] = aggregate.Value{End: c.Value.End, Last: c.Value.Last, Agg: c.Value.Agg.Clone()}
	}
}

func (s *globalSink) Active(p int32, _ int64, cs []engine.Change) { s.set(p, cs) }
func (s *globalSink) Committed(cs []Commit) {
	s.mu.Lock()
	s.txns++
	s.mu.Unlock()
	for _, c := range cs {
		s.set(c.Partition, c.Totals)
	}
}
func (s *globalSink) Inactive(int32) {}

// complete says whether every total has its count.
func (s *globalSink) complete(want map[windowref.TotalKey]*windowref.Agg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range want {
		if v, ok := s.totals[k]; !ok || v.Agg.Count != w.Count {
			return false
		}
	}
	return true
}

func (s *globalSink) check(t *testing.T, want map[windowref.TotalKey]*windowref.Agg, bound float64) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.moved {
		t.Errorf("running total %s: a key has one stage-2 task", m)
	}
	for k, w := range want {
		v, ok := s.totals[k]
		what := fmt.Sprintf("running total %s %q", k.Agg, k.Group)
		switch a := v.Agg; {
		case !ok:
			t.Errorf("%s missing", what)
		case a.Count != w.Count || a.ClientErrors != w.ClientErrors || a.ServerErrors != w.ServerErrors || a.Values != w.Values:
			t.Errorf("%s: counts %d/%d/%d/%d, want %d/%d/%d/%d", what, a.Count, a.ClientErrors, a.ServerErrors, a.Values,
				w.Count, w.ClientErrors, w.ServerErrors, w.Values)
		case math.Abs(a.Sum-w.Sum) > 1e-9*math.Abs(w.Sum) || a.Min != w.Min || a.Max != w.Max || v.Last != w.Last:
			t.Errorf("%s: sum/min/max/last %v/%v/%v/%d, want %v/%v/%v/%d", what, a.Sum, a.Min, a.Max, v.Last, w.Sum, w.Min, w.Max, w.Last)
		case a.Sketch != nil:
			for _, q := range []float64{0.5, 0.99} {
				if est, exact := a.Quantile(q), w.Quantile(q); math.Abs(est-exact) > bound*exact {
					t.Errorf("%s: q%v = %v, exact %v: beyond the sketch's bound %v", what, q, est, exact, bound)
				}
			}
		}
	}
	if len(s.totals) != len(want) {
		t.Errorf("%d running totals, want %d", len(s.totals), len(want))
	}
}
