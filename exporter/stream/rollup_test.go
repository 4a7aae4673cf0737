package stream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
)

// rollupConfig is instanceConfig's aggregation with 5m and 1h rollups.
func rollupConfig(t *testing.T, addr, instanceID, stateDir string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    quantiles: [0.99]
    rollups: [{resolution: 5m, retention: 2d}, {resolution: 1h, retention: 30d}]
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: app, instance_id: %s, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
`, addr, instanceID, stateDir)
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lateBatch is n events too late for any window (an hour behind the traffic):
// counted in no window, so in no rollup either.
func (tr *traffic) lateBatch(rng *rand.Rand, n int) []*kgo.Record {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	rs := make([]*kgo.Record, 0, n)
	for range n {
		ts := tr.base + int64(tr.sent)*10 - 3600_000
		rs = append(rs, &kgo.Record{Topic: input, Partition: int32(rng.IntN(partitions)), Value: reqJSON(ts, crashEndpoints[rng.IntN(len(crashEndpoints))], 200, 5)})
	}
	return rs
}

// TestRollupCrashBetweenCommitAndApply: rollup windows are merged from closed
// windows in the transaction that closes them. With transactions that commit
// and then die before the store has them (three times), events out of order
// within grace (traffic.batch jitters event times by up to 2 s, so events land
// in windows whose end stream time has passed) and events beyond grace (late:
// in no window), every rollup window must hold exactly the events sent in its
// span: nothing counted twice, nothing lost; and its sketch must be the merge of
// its windows', bucket for bucket.
func TestRollupCrashBetweenCommitAndApply(t *testing.T) {
	addr := newCluster(t)
	cfg := rollupConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3*3600_000) / 3600_000 * 3600_000}
	rng := rand.New(rand.NewPCG(12, 13))
	prod := client(t, addr)
	a := startInstanceWith(t, cfg, func(rt *Runtime) { rt.backoffMin = 10 * time.Millisecond })
	stopped := false
	defer func() {
		if !stopped {
			a.stop(t)
		}
	}()
	waitReady(t, a)
	const crashes = 3
	for i := range crashes {
		a.rt.crashAfterCommit.Store(1)
		// ~100 s of event time per batch: windows close in every interval.
		produce(t, prod, tr.batch(rng, 10000))
		produce(t, prod, tr.lateBatch(rng, 50))
		for deadline := time.Now().Add(30 * time.Second); a.rt.crashAfterCommit.Load() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("crash %d not injected within 30s", i+1)
			}
		}
		waitReady(t, a)
	}
	produce(t, prod, tr.batch(rng, 10000))
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)

	// The rollups, once the last transaction reached the store.
	want := map[string]uint64{} // rollup name|endpoint|start -> events
	for id, n := range tr.counts {
		parts := strings.Split(id, "|") // endpoint_1m|endpoint=/x|start
		var start int64
		fmt.Sscan(parts[2], &start)
		ep := strings.TrimPrefix(parts[1], "endpoint=")
		for _, res := range []int64{5 * minute, 60 * minute} {
			want[fmt.Sprintf("%s|%s|%d", store.RollupAgg("endpoint_1m", res), ep, start-start%res)] += n
		}
	}
	var problems []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		problems = checkRollups(t, a.rt.Stores(), want)
		if len(problems) == 0 {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		return
	}

	// A new instance with no local state restores the rollups from their
	// changelogs.
	a.stop(t)
	stopped = true
	b := startInstance(t, rollupConfig(t, addr, "b", filepath.Join(t.TempDir(), "fresh")))
	defer b.stop(t)
	waitReady(t, b)
	for _, p := range checkRollups(t, b.rt.Stores(), want) {
		t.Errorf("restored: %s", p)
	}
}

// checkRollups compares every stored rollup window with want (its events) and
// with the merge of the stored closed windows it spans.
func checkRollups(t *testing.T, stores []StoreInfo, want map[string]uint64) []string {
	t.Helper()
	var problems []string
	got := map[string]uint64{}
	for _, si := range stores {
		cp, _, err := si.Store.Checkpoint()
		if err != nil {
			return []string{err.Error()}
		}
		for _, res := range []int64{5 * minute, 60 * minute} {
			name := store.RollupAgg("endpoint_1m", res)
			err := si.Store.Windows(name, math.MinInt64, engine.TotalStart, func(e store.Entry) bool {
				var v aggregate.Value
				if err := v.UnmarshalBinary(e.Value); err != nil {
					problems = append(problems, err.Error())
					return false
				}
				vals, _ := store.SplitGroup(e.Key.Group)
				id := fmt.Sprintf("%s|%s|%d", name, vals[0], e.Key.Start)
				got[id] = v.Agg.Count
				if v.End != e.Key.Start+res {
					problems = append(problems, fmt.Sprintf("%s ends at %d", id, v.End))
				}
				merged := aggregate.New(6, true)
				if err := si.Store.Range("endpoint_1m", e.Key.Group, e.Key.Start, e.Key.Start+res, func(b store.Entry) bool {
					var bv aggregate.Value
					// Only closed windows are in a rollup: closeAll's events
					// are in open ones.
					if err := bv.UnmarshalBinary(b.Value); err == nil && bv.End+10_000 <= cp.StreamTime {
						merged.Merge(bv.Agg)
					}
					return true
				}); err != nil {
					problems = append(problems, err.Error())
				}
				if m, r := buckets(merged), buckets(v.Agg); m != r || merged.Count != v.Agg.Count {
					problems = append(problems, fmt.Sprintf("%s: count %d, buckets %s; its windows merged: count %d, buckets %s", id, v.Agg.Count, r, merged.Count, m))
				}
				return true
			})
			if err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	for id, n := range want {
		if got[id] != n {
			problems = append(problems, fmt.Sprintf("rollup window %s holds %d events, want %d", id, got[id], n))
		}
	}
	for id, n := range got {
		if _, ok := want[id]; !ok {
			problems = append(problems, fmt.Sprintf("rollup window %s holds %d events, want none", id, n))
		}
	}
	return problems
}

// buckets prints a sketch's schema and buckets.
func buckets(a *aggregate.Aggregate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "s%d z%d", a.Sketch.Schema(), a.Sketch.ZeroCount())
	a.Sketch.ForEachBucket(func(i int32, n uint64) { fmt.Fprintf(&b, " %d:%d", i, n) })
	return b.String()
}

// Retention per resolution: each of an aggregation's windows and of its rollups'
// goes when it starts more than its own retention before stream time, and
// nothing else does (running totals stay, and so does every younger window).
func TestRollupRetention(t *testing.T) {
	cfg := rollupConfig(t, "127.0.0.1:1", "a", t.TempDir())
	rt := &Runtime{cfg: cfg}
	// As New builds them.
	a := cfg.Aggregations[0]
	rt.logNames = []string{a.Name, store.RollupAgg(a.Name, 5*minute), store.RollupAgg(a.Name, 60*minute)}
	rt.logRetention = []int64{a.Retention.Millis(), 2 * 24 * 60 * minute, 30 * 24 * 60 * minute}
	if a.Retention.Millis() != 24*60*minute {
		t.Fatalf("retention %v, want the default 24h", a.Retention)
	}
	st := store.NewMemory()
	defer st.Close()
	const now = int64(1_800_000_000_000) // stream time, a multiple of an hour
	g := store.AppendGroup(nil, []byte("/x"))
	var b store.Batch
	type win struct {
		name  string
		start int64
	}
	var all []win
	for i, name := range rt.logNames {
		ret := rt.logRetention[i]
		// Around the cut: just before, at and after it; and far on each side.
		for _, s := range []int64{now - ret - 2*60*minute, now - ret - 60*minute, now - ret, now - ret + 60*minute, now - 60*minute, now} {
			b.Put(store.Key{Agg: name, Group: g, Start: s}, []byte("v"))
			all = append(all, win{name, s})
		}
	}
	b.Put(store.Key{Agg: a.Name, Group: g, Start: engine.TotalStart}, []byte("total"))
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	tk := &task{rt: rt, store: st, cp: store.Checkpoint{StreamTime: now}}
	if err := tk.retain(time.Unix(3600, 0)); err != nil {
		t.Fatal(err)
	}
	for i, w := range all {
		_, ok, err := st.Get(store.Key{Agg: w.name, Group: g, Start: w.start})
		if err != nil {
			t.Fatal(err)
		}
		ret := rt.logRetention[i/6]
		if keep := w.start >= now-ret; ok != keep {
			t.Errorf("%s window at now-%v: kept %v, want %v (retention %v)", w.name, time.Duration(now-w.start)*time.Millisecond, ok, keep, time.Duration(ret)*time.Millisecond)
		}
	}
	if _, ok, _ := st.Get(store.Key{Agg: a.Name, Group: g, Start: engine.TotalStart}); !ok {
		t.Error("retention removed the running total")
	}
}

// TestPaneRetention: retention also deletes a hopping aggregation's panes left
// behind past it, in every variant, and keeps the younger ones.
func TestPaneRetention(t *testing.T) {
	cfg, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: hop, group_by: [endpoint], window: {type: hopping, size: 5m, advance: 2m}, grace: 10s, retention: 1h}
`))
	if err != nil {
		t.Fatal(err)
	}
	rt := &Runtime{cfg: cfg, logNames: []string{"hop"}, logRetention: []int64{60 * minute}, hopping: []bool{true}}
	st := store.NewMemory()
	defer st.Close()
	const now = int64(1_800_000_000_000)
	g := store.AppendGroup(nil, []byte("/x"))
	var b store.Batch
	starts := []int64{now - 2*60*minute, now - 60*minute - 1, now - 60*minute, now - minute}
	for v := range 3 { // ceil(5m/2m) variants
		for _, s := range starts {
			b.Put(store.Key{Agg: store.PaneAgg("hop", v), Group: g, Start: s}, []byte("v"))
		}
	}
	if err := st.Write(&b); err != nil {
		t.Fatal(err)
	}
	tk := &task{rt: rt, store: st, cp: store.Checkpoint{StreamTime: now}}
	if err := tk.retain(time.Unix(3600, 0)); err != nil {
		t.Fatal(err)
	}
	for v := range 3 {
		for _, s := range starts {
			_, ok, err := st.Get(store.Key{Agg: store.PaneAgg("hop", v), Group: g, Start: s})
			if err != nil {
				t.Fatal(err)
			}
			if keep := s >= now-60*minute; ok != keep {
				t.Errorf("variant %d, pane at now-%v: kept %v, want %v", v, time.Duration(now-s)*time.Millisecond, ok, keep)
			}
		}
	}
}

// TestRollupAddedLater: rollups added to an aggregation that has run without
// them start complete: the first transaction after the restart merges the
// windows the store holds closed, and the windows closing from then on are
// merged as they close; none twice.
func TestRollupAddedLater(t *testing.T) {
	addr := newCluster(t)
	dir := filepath.Join(t.TempDir(), "state")
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3*3600_000) / 3600_000 * 3600_000}
	rng := rand.New(rand.NewPCG(14, 15))
	prod := client(t, addr)
	a := startInstance(t, instanceConfig(t, addr, "a", dir))
	waitReady(t, a)
	produce(t, prod, tr.batch(rng, 20000)) // 200 s of event time: windows close
	waitProcessed(t, a, float64(tr.sent))
	a.stop(t)

	b := startInstance(t, rollupConfig(t, addr, "a", dir))
	defer b.stop(t)
	waitReady(t, b)
	produce(t, prod, tr.batch(rng, 20000))
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	want := map[string]uint64{}
	for id, n := range tr.counts {
		parts := strings.Split(id, "|")
		var start int64
		fmt.Sscan(parts[2], &start)
		ep := strings.TrimPrefix(parts[1], "endpoint=")
		for _, res := range []int64{5 * minute, 60 * minute} {
			want[fmt.Sprintf("%s|%s|%d", store.RollupAgg("endpoint_1m", res), ep, start-start%res)] += n
		}
	}
	var problems []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if problems = checkRollups(t, b.rt.Stores(), want); len(problems) == 0 {
			break
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}
