package rollup_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/store"
)

const minute = int64(60_000)

func newConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - name: plain
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
  - name: a
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    quantiles: [0.99]
    rollups: [{resolution: 5m, retention: 2d}, {resolution: 1h, retention: 30d}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// window is a closed window of aggregation a with n events of latency v.
func window(group string, start int64, n int, v float64) engine.Change {
	agg := aggregate.New(6, true)
	for range n {
		agg.Add(&event.Event{Time: start, Value: v, HasValue: true, Status: 200})
	}
	return engine.Change{Agg: 1, Group: group, Start: start, Value: aggregate.Value{End: start + minute, Last: start + 1, Agg: agg}}
}

// Merge adds each closed window to the rollup window of each resolution that
// holds it, on top of what the store holds, and hands each changed rollup
// window out once, in key order; windows of aggregations without rollups add
// nothing. Negative starts floor like positive ones.
func TestMerge(t *testing.T) {
	c := newConfig(t)
	m := rollup.NewMerger(c)
	st := store.NewMemory()
	defer st.Close()
	g1, g2 := string(store.AppendGroup(nil, []byte("/x"))), string(store.AppendGroup(nil, []byte("/y")))
	commit := func(closed []engine.Change) []string {
		t.Helper()
		var b store.Batch
		var keys []string
		err := m.Merge(closed, st.Get, func(l rollup.Level, k store.Key, key, value []byte) error {
			if got := k.Append(nil); string(got) != string(key) {
				t.Errorf("key %x for %+v", key, k)
			}
			keys = append(keys, string(key))
			b.Put(k, value)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Write(&b); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(keys) {
			t.Error("rollup windows not in key order")
		}
		return keys
	}
	plain := window(g1, 0, 7, 1)
	plain.Agg = 0
	keys := commit([]engine.Change{plain, window(g1, 0, 2, 0.01), window(g1, minute, 3, 0.02), window(g2, -minute, 4, 0.5)})
	if len(keys) != 4 { // g1: 5m@0, 1h@0; g2: 5m@-5m, 1h@-1h
		t.Errorf("%d rollup windows written, want 4", len(keys))
	}
	commit([]engine.Change{window(g1, 4*minute, 5, 0.03), window(g1, 5*minute, 1, 0.04)})
	count := func(res, start int64, g string) (uint64, int64) {
		t.Helper()
		b, ok, err := st.Get(store.Key{Agg: store.RollupAgg("a", res), Group: []byte(g), Start: start})
		if err != nil || !ok {
			t.Fatalf("rollup %d@%d of %q: %v %v", res, start, g, ok, err)
		}
		var v aggregate.Value
		if err := v.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if v.End != start+res {
			t.Errorf("rollup %d@%d ends at %d", res, start, v.End)
		}
		if v.Agg.Sketch.Count() != v.Agg.Count {
			t.Errorf("rollup %d@%d: sketch holds %d of %d", res, start, v.Agg.Sketch.Count(), v.Agg.Count)
		}
		return v.Agg.Count, v.Last
	}
	f := func(res, start int64, g string, want uint64) {
		t.Helper()
		if n, _ := count(res, start, g); n != want {
			t.Errorf("rollup %d@%d of %q holds %d, want %d", res, start, g, n, want)
		}
	}
	f(5*minute, 0, g1, 2+3+5)
	f(5*minute, 5*minute, g1, 1)
	f(60*minute, 0, g1, 2+3+5+1)
	f(5*minute, -5*minute, g2, 4)
	f(60*minute, -60*minute, g2, 4)
	if _, last := count(60*minute, 0, g1); last != 5*minute+1 {
		t.Errorf("last event %d, want %d", last, 5*minute+1)
	}
	if _, ok, _ := st.Get(store.Key{Agg: store.RollupAgg("plain", 5*minute), Group: []byte(g1), Start: 0}); ok {
		t.Error("an aggregation without rollups got one")
	}
}

// A store that fails, or holds a rollup window of another length, stops the
// merge with an error rather than merging into it.
func TestMergeErrors(t *testing.T) {
	m := rollup.NewMerger(newConfig(t))
	g := string(store.AppendGroup(nil, []byte("/x")))
	boom := errors.New("boom")
	put := func(rollup.Level, store.Key, []byte, []byte) error { return nil }
	if err := m.Merge([]engine.Change{window(g, 0, 1, 1)}, func(store.Key) ([]byte, bool, error) { return nil, false, boom }, put); !errors.Is(err, boom) {
		t.Errorf("store failure: %v", err)
	}
	wrong, _ := aggregate.Value{End: 7, Agg: aggregate.New(6, true)}.AppendBinary(nil)
	if err := m.Merge([]engine.Change{window(g, 0, 1, 1)}, func(store.Key) ([]byte, bool, error) { return wrong, true, nil }, put); err == nil {
		t.Error("a rollup window of the wrong length was merged into")
	}
	if err := m.Merge([]engine.Change{window(g, 0, 1, 1)}, func(store.Key) ([]byte, bool, error) { return []byte{9}, true, nil }, put); !errors.Is(err, aggregate.ErrCorrupt) {
		t.Errorf("corrupt rollup window: %v", err)
	}
	if err := m.Merge([]engine.Change{window(g, 0, 1, 1)}, func(store.Key) ([]byte, bool, error) { return nil, false, nil },
		func(rollup.Level, store.Key, []byte, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("put failure: %v", err)
	}
}
