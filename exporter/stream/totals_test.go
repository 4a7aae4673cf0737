package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// totalsSink records the running totals a Sink is given, by aggregation index
// and endpoint ("0|/api").
type totalsSink struct {
	mu     sync.Mutex
	totals map[int32]map[string]uint64 // partition -> agg|endpoint -> count
}

func (s *totalsSink) set(p int32, cs []engine.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.totals[p] == nil {
		s.totals[p] = map[string]uint64{}
	}
	for _, c := range cs {
		vals, _ := store.SplitGroup([]byte(c.Group))
		s.totals[p][fmt.Sprint(c.Agg, "|", string(vals[0]))] = c.Value.Agg.Count
	}
}

func (s *totalsSink) Active(p int32, _ int64, cs []engine.Change) { s.set(p, cs) }
func (s *totalsSink) Committed(cs []Commit) {
	for _, c := range cs {
		s.set(c.Partition, c.Totals)
	}
}
func (s *totalsSink) Inactive(int32) {}

func (s *totalsSink) sum() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]uint64{}
	for _, m := range s.totals {
		for k, n := range m {
			out[k] += n
		}
	}
	return out
}

// TestTotalsSurviveRestart: the running totals behind the Prometheus counters come
// back from the store when an instance restarts, so counters continue, and they
// count every event once.
func TestTotalsSurviveRestart(t *testing.T) {
	addr := newCluster(t)
	// A tumbling aggregation and a hopping one (kept as panes at stage 2):
	// each stores its totals as a base that leaves out its open windows
	// (panes), which a restored task adds back.
	cfg, err := config.Parse("test.yml", []byte(fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.99]}
  - {name: endpoint_5m, group_by: [endpoint], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: app, instance_id: a, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
`, addr, filepath.Join(t.TempDir(), "state"))))
	if err != nil {
		t.Fatal(err)
	}
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(4, 4))
	prod := client(t, addr)
	sent := map[string]uint64{}
	send := func(n int) {
		rs := tr.batch(rng, n)
		for _, r := range rs {
			res := decodeEvent(t, r.Value)
			sent["0|"+res]++
			sent["1|"+res]++
		}
		produce(t, prod, rs)
	}
	run := func() map[string]uint64 {
		sink := &totalsSink{totals: map[int32]map[string]uint64{}}
		ctx, cancel := context.WithCancel(context.Background())
		rt, err := New(ctx, cfg, Options{Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- rt.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for !equalCounts(sink.sum(), sent) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		got := sink.sum()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return got
	}
	send(3000)
	if got := run(); !equalCounts(got, sent) {
		t.Fatalf("first run: totals %v, want %v", got, sent)
	}
	send(2000)
	// The second instance starts from the store: its totals are the first run's
	// plus the new events, not the new events alone.
	if got := run(); !equalCounts(got, sent) {
		t.Fatalf("after a restart: totals %v, want %v (the counters must continue)", got, sent)
	}
	// Without new events the totals come from the store alone (Sink.Active),
	// made whole from the open windows a stored base leaves out.
	if got := run(); !equalCounts(got, sent) {
		t.Fatalf("restarted with no new event: totals %v, want %v", got, sent)
	}
}

func equalCounts(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// decodeEvent returns the endpoint of a request-log payload.
func decodeEvent(t *testing.T, v []byte) string {
	t.Helper()
	res := struct{ Endpoint string }{}
	if err := jsonUnmarshal(v, &res); err != nil {
		t.Fatal(err)
	}
	return res.Endpoint
}
