package query

import (
	"context"
	"flag"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// The rollup benchmarks (issue 12) read 1,000 keys with 30 days of history in
// RocksDB stores written as the stage-2 tasks of one instance keep them: one
// store per stage-2 partition (-rollups.stores, default 6, the default input
// partitions; each key in the store of its partition, as the repartition topic
// routes it), one-minute windows kept 24h and hourly rollups kept 30d.
//
//   - The last 24 hours (and the hour they start in) are written minute by
//     minute: each key's window, and each minute's closed windows merged into
//     their hourly rollup windows by package rollup, as stage 2 does, in one
//     write per minute. Then retention deletes the windows older than 24h.
//   - The 29 days before are written as hourly rollups directly: a one-minute
//     window that retention deleted 29 days later leaves nothing but its
//     rollup, so writing 41,760 windows per key only to delete them would
//     change nothing queried or measured but the time to build the store.
//
// Each window holds 20 events (latencies with a heavy tail, 7% 4xx, 5% 5xx),
// drawn from a pool of 256 minutes; each older rollup window is the merge of
// 60 of them, from a pool of 256 hours. The store is then closed and reopened
// (everything in table files) and its size on disk measured. It is built once
// per process (2 to 6 minutes on the 2-core CI machine) in a temporary
// directory removed at exit; with KWINDOW_ROLLUP_BENCH_DIR set, it is built
// there once and reused by later runs (delete the directory after changing
// how it is built).
const (
	rbKeys = 1000
	rbDays = 30
)

const rollupBenchConfig = `
events:
  timestamp: {field: ts, unit: ms}
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions:
    - name: endpoint
aggregations:
  - name: req_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    retention: 24h
    quantiles: [0.5, 0.95, 0.99]
    rollups: [{resolution: 1h, retention: 30d}]
stream:
  application_id: rollupbench
  input_topic: in
`

// rbStores is the number of stores the keys are spread over.
var rbStores = flag.Int("rollups.stores", 6, "BenchmarkRollups: stores (stage-2 partitions) holding the 1,000 keys")

type rollupWorld struct {
	dir   string
	sts   []*store.Rocks // one per stage-2 partition
	cache *store.BlockCache
	cfg   *config.Config
	l     *Local
	srcs  []Source
	now   int64         // stream time: 17 minutes into an hour
	built time.Duration // to generate and write the history
	disk  int64         // bytes of the stores' files, after reopening
	// logical is the bytes of keys and values per level (req_1m, its hourly
	// rollups), what the store holds before compression.
	logical map[string]int64
	windows map[string]int64
}

var (
	rbOnce  sync.Once
	rbWorld *rollupWorld
	rbErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if rbWorld != nil {
		for _, st := range rbWorld.sts {
			st.Close()
		}
		if rbWorld.cache != nil {
			rbWorld.cache.Close()
		}
		if os.Getenv(rbDirEnv) == "" {
			os.RemoveAll(rbWorld.dir)
		}
	}
	os.Exit(code)
}

// rbDirEnv names the directory that keeps the benchmark's store between runs.
const rbDirEnv = "KWINDOW_ROLLUP_BENCH_DIR"

func rollupBenchWorld(b *testing.B) *rollupWorld {
	b.Helper()
	rbOnce.Do(func() { rbWorld, rbErr = buildRollupWorld() })
	if rbErr != nil {
		b.Fatal(rbErr)
	}
	return rbWorld
}

func rbKey(k int) []byte {
	return store.AppendGroup(nil, []byte(fmt.Sprintf("/api/v1/endpoint/%04d", k)))
}

func buildRollupWorld() (*rollupWorld, error) {
	began := time.Now()
	c, err := config.Parse("bench.yml", []byte(rollupBenchConfig))
	if err != nil {
		return nil, err
	}
	w := &rollupWorld{cfg: c, now: t0 + rbDays*24*hour + 17*minute, logical: map[string]int64{}, windows: map[string]int64{}}
	done := ""
	if w.dir = os.Getenv(rbDirEnv); w.dir != "" {
		w.dir = filepath.Join(w.dir, fmt.Sprintf("stores-%d", *rbStores))
		done = filepath.Join(w.dir, "built")
		if b, err := os.ReadFile(done); err == nil {
			w.built, _ = time.ParseDuration(string(b))
			return w.open(c)
		}
		if err := os.MkdirAll(w.dir, 0o755); err != nil {
			return nil, err
		}
	} else if w.dir, err = os.MkdirTemp("", "kwindow-rollup-bench-"); err != nil {
		return nil, err
	}
	if err := w.openStores(); err != nil {
		return nil, err
	}
	// Each key's windows go to the store of its partition.
	batches := make([]store.Batch, len(w.sts))
	put := func(k store.Key, v []byte) { batches[w.part(k.Group)].Put(k, v) }
	get := func(k store.Key) ([]byte, bool, error) { return w.sts[w.part(k.Group)].Get(k) }
	write := func() error {
		for i, st := range w.sts {
			if err := st.Write(&batches[i]); err != nil {
				return err
			}
			batches[i].Reset()
		}
		return nil
	}
	r := rand.New(rand.NewPCG(12, 34))
	minutes := make([]*aggregate.Aggregate, 256)
	for i := range minutes {
		a := aggregate.New(sketch.DefaultSchema, true)
		for range 20 {
			ev := event.Event{Value: 0.005 + 0.03*r.Float64(), HasValue: true, Status: 200, Class: event.OK}
			if r.IntN(20) == 0 {
				ev.Value = 0.3 + 2*r.ExpFloat64()
			}
			switch x := r.IntN(100); {
			case x < 5:
				ev.Status, ev.Class = 503, event.ServerError
			case x < 12:
				ev.Status, ev.Class = 404, event.ClientError
			}
			a.Add(&ev)
		}
		minutes[i] = a
	}
	hours := make([]*aggregate.Aggregate, 256)
	for i := range hours {
		a := aggregate.New(sketch.DefaultSchema, true)
		for range 60 {
			a.Merge(minutes[r.IntN(len(minutes))])
		}
		hours[i] = a
	}
	roll := store.RollupAgg("req_1m", hour)
	keys := make([][]byte, rbKeys)
	for k := range keys {
		keys[k] = rbKey(k)
	}
	// 29 days of hourly rollups, up to the hour the last 24 hours start in.
	cut := (w.now - 24*hour) / hour * hour
	for h := w.now - rbDays*24*hour; h < cut; h += hour {
		for _, g := range keys {
			v, err := aggregate.Value{End: h + hour, Last: h + hour - 1, Agg: hours[r.IntN(len(hours))]}.AppendBinary(nil)
			if err != nil {
				return nil, err
			}
			put(store.Key{Agg: roll, Group: g, Start: h}, v)
		}
		if err := write(); err != nil {
			return nil, err
		}
	}
	// The last day, minute by minute, as stage 2 writes it: each minute's
	// windows, and those that closed (end + grace before the stream time)
	// merged into their rollup windows.
	merger := rollup.NewMerger(c)
	written := map[int64][]engine.Change{}
	for m := cut; m < w.now; m += minute {
		st := m + minute - 1 // stream time after this minute's events
		changes := make([]engine.Change, 0, rbKeys)
		for _, g := range keys {
			a := minutes[r.IntN(len(minutes))]
			val := aggregate.Value{End: m + minute, Last: m + minute - 1, Agg: a}
			v, err := val.AppendBinary(nil)
			if err != nil {
				return nil, err
			}
			put(store.Key{Agg: "req_1m", Group: g, Start: m}, v)
			changes = append(changes, engine.Change{Agg: 0, Group: string(g), Start: m, Value: val})
		}
		written[m] = changes
		// The windows of the minute before close 10 s into this one: by the
		// end of this minute's events.
		if prev, ok := written[m-minute]; ok && m+10_000 <= st {
			if err := merger.Merge(prev, get, func(_ rollup.Level, k store.Key, _, value []byte) error {
				put(k, value)
				return nil
			}); err != nil {
				return nil, err
			}
			delete(written, m-minute)
		}
		if err := write(); err != nil {
			return nil, err
		}
	}
	for _, st := range w.sts {
		// Retention, per resolution.
		if _, err := st.DeleteBefore("req_1m", w.now-24*hour); err != nil {
			return nil, err
		}
		if _, err := st.DeleteBefore(roll, w.now-rbDays*24*hour); err != nil {
			return nil, err
		}
		// Reopen: everything in table files.
		if err := st.Close(); err != nil {
			return nil, err
		}
	}
	w.built = time.Since(began)
	if done != "" {
		if err := os.WriteFile(done, []byte(w.built.String()), 0o644); err != nil {
			return nil, err
		}
	}
	return w.open(c)
}

// openStores opens the world's stores, one directory each, sharing one block
// cache of the size a single store has by default (64 MiB), as an instance's
// stores share one.
func (w *rollupWorld) openStores() error {
	w.sts = make([]*store.Rocks, *rbStores)
	if w.cache == nil {
		w.cache = store.NewBlockCache(64 << 20)
	}
	for i := range w.sts {
		var err error
		if w.sts[i], err = store.OpenRocks(filepath.Join(w.dir, fmt.Sprintf("p%d", i)), store.RocksOptions{BlockCache: w.cache}); err != nil {
			return err
		}
	}
	return nil
}

// part is the stage-2 partition of a key.
func (w *rollupWorld) part(group []byte) int {
	h := fnv.New32a()
	h.Write(group)
	return int(h.Sum32() % uint32(len(w.sts)))
}

// open opens the built stores.
func (w *rollupWorld) open(c *config.Config) (*rollupWorld, error) {
	if err := w.openStores(); err != nil {
		return nil, err
	}
	var err error
	if w.l, err = New(c, Limits{}); err != nil {
		return nil, err
	}
	for i, st := range w.sts {
		w.srcs = append(w.srcs, Source{Partition: int32(i), Store: st, StreamTime: w.now})
	}
	return w, nil
}

// measure measures the stores: their windows, bytes of keys and values, and
// files. It reads every window, which takes seconds (minutes under valgrind),
// so only the benchmark that reports them calls it, and it warms the block
// cache as no query does: that benchmark runs last.
func (w *rollupWorld) measure() error {
	roll := store.RollupAgg("req_1m", hour)
	for _, st := range w.sts {
		for _, name := range []string{"req_1m", roll} {
			if err := st.Windows(name, w.now-rbDays*24*hour-hour, engine.TotalStart, func(e store.Entry) bool {
				w.logical[name] += int64(len(e.Key.Append(nil)) + len(e.Value))
				w.windows[name]++
				return true
			}); err != nil {
				return err
			}
		}
	}
	return filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".sst") || strings.HasSuffix(path, ".log")) {
			if info, err := d.Info(); err == nil {
				w.disk += info.Size()
			}
		}
		return err
	})
}

// BenchmarkRollups: the queries of issue 12 over 1,000 keys and 30 days (see
// rollupWorld), each reporting the p50 and p99 of its latencies; and the
// stores' size. Targets: one key over 24h at a 1-minute step, p99 < 5 ms; one
// key over 30 days at a 1-hour step, p99 < 5 ms; all 1,000 keys over 24h,
// top 10 by P99, p99 < 100 ms.
func BenchmarkRollups(b *testing.B) {
	w := rollupBenchWorld(b)
	ctx := context.Background()
	p99 := []Measure{{Kind: Quantile, Q: 0.99}, {Kind: Count}}
	hourEnd := w.now / hour * hour // the last whole hour: steps aligned as the Grafana plugin aligns them
	r := rand.New(rand.NewPCG(5, 6))
	oneKey := func() []Matcher {
		return []Matcher{{Dim: "endpoint", Op: Equal, Value: fmt.Sprintf("/api/v1/endpoint/%04d", r.IntN(rbKeys))}}
	}
	rangeBench := func(name string, from, to, step, wantRes int64, wantPoints int) {
		b.Run(name, func(b *testing.B) {
			res := mustRange(b, w.l, w.srcs, RangeQuery{Aggregation: "req_1m", Filters: oneKey(), From: from, To: to, Step: step, Measures: p99})
			if len(res.Series) != 1 || len(res.Series[0].Points) != wantPoints || res.Series[0].Points[0].Resolution != wantRes {
				b.Fatalf("%d series; want 1 of %d points at resolution %d", len(res.Series), wantPoints, wantRes)
			}
			runLatency(b, func() error {
				_, err := w.l.Range(ctx, w.srcs, RangeQuery{Aggregation: "req_1m", Filters: oneKey(), From: from, To: to, Step: step, Measures: p99})
				return err
			})
		})
	}
	rangeBench("key=1/range=24h/step=1m", w.now-24*hour, w.now, minute, minute, 24*60)
	rangeBench("key=1/range=30d/step=1h", hourEnd-rbDays*24*hour+hour, hourEnd, hour, hour, rbDays*24-1)
	// Issue 9's many-key query: 1,000 keys over the last whole hour grouped by
	// key, one point each, which the hourly rollup answers with one window per
	// key instead of sixty.
	b.Run("keys=1000/range=1h/step=1h/by-key", func(b *testing.B) {
		q := RangeQuery{Aggregation: "req_1m", GroupBy: []string{"endpoint"}, From: hourEnd - hour, To: hourEnd, Step: hour, Measures: p99}
		res := mustRange(b, w.l, w.srcs, q)
		if len(res.Series) != rbKeys || len(res.Series[0].Points) != 1 || res.Series[0].Points[0].Resolution != hour {
			b.Fatalf("%d series; want %d of 1 point at resolution %d", len(res.Series), rbKeys, hour)
		}
		runLatency(b, func() error { _, err := w.l.Range(ctx, w.srcs, q); return err })
	})
	topk := func(name string, from, to int64) {
		b.Run(name, func(b *testing.B) {
			q := TopKQuery{Aggregation: "req_1m", From: from, To: to, Measure: Measure{Kind: Quantile, Q: 0.99}, K: 10}
			res, err := w.l.TopK(ctx, w.srcs, q)
			if err != nil || len(res.Entries) != 10 || res.Entries[0].Agg.Count == 0 {
				b.Fatalf("top-k: %v, %+v", err, res)
			}
			runLatency(b, func() error { _, err := w.l.TopK(ctx, w.srcs, q); return err })
		})
	}
	// On the hour: 24 hourly rollups per key. Off it: 23, and 60 one-minute
	// windows at the edges.
	topk("keys=1000/range=24h/top10-p99/on-the-hour", hourEnd-24*hour, hourEnd)
	topk("keys=1000/range=24h/top10-p99/off-the-hour", w.now-24*hour, w.now)
	b.Run("store", func(b *testing.B) {
		if w.disk == 0 {
			if err := w.measure(); err != nil {
				b.Fatal(err)
			}
		}
		for range b.N {
		}
		roll := store.RollupAgg("req_1m", hour)
		b.ReportMetric(float64(w.disk)/(1<<20), "disk_MiB")
		b.ReportMetric(float64(w.logical["req_1m"])/rbKeys/1, "1m_B/key/day")
		b.ReportMetric(float64(w.logical[roll])/rbKeys/rbDays, "1h_B/key/day")
		b.ReportMetric(w.built.Seconds(), "build_s")
		b.Logf("%d one-minute windows (%d B of keys and values), %d hourly rollups (%d B); %d B on disk; built in %v",
			w.windows["req_1m"], w.logical["req_1m"], w.windows[roll], w.logical[roll], w.disk, w.built.Round(time.Second))
	})
}
