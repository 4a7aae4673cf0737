package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// The benchmarks query three instances, each with two of six RocksDB stores
// (flushed to table files, as windows older than a memtable are), holding
// 1,000 keys x 60 one-minute windows of endpoint_1m, each window of 200
// latencies. Keys sit in the partition their delta key hashes to, as stage 2
// places them. Each instance serves the internal API on loopback HTTP, as in
// production; what is measured is the query from the Node call to the merged
// answer: planning, the local reads, the requests to the other instances (gob
// over HTTP with pooled connections) and the merge. Kafka is not involved.
// Each benchmark reports the p50 and p99 of its queries' latencies. Each key
// also has its hourly rollup (the 60 windows merged, as stage 2 stores it), which
// the many-key queries read unless asked for windows (max_resolution).
const (
	benchKeys       = 1000
	benchParts      = 6
	benchInstances  = 3
	benchWindowSpan = 60
)

type staticRuntime struct{ stores []stream.StoreInfo }

func (s staticRuntime) Stores() []stream.StoreInfo   { return s.stores }
func (s staticRuntime) RepartitionPartitions() int32 { return benchParts }
func (s staticRuntime) Ready() (bool, string)        { return true, "" }

type staticMembers []api.Member

func (s staticMembers) Members(context.Context, bool) ([]api.Member, error) { return s, nil }

type benchGroup struct {
	nodes []*Node
	t0    int64
	owner map[string]int // endpoint -> instance index
}

var benchSetup struct {
	once sync.Once
	dir  string
	g    *benchGroup
	err  error
}

// TestMain removes the benchmarks' stores, which outlive each benchmark.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchSetup.dir != "" {
		os.RemoveAll(benchSetup.dir)
	}
	os.Exit(code)
}

func benchConfig() (*config.Config, error) {
	return config.Parse("bench.yml", []byte(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 5s, quantiles: [0.5, 0.99],
     rollups: [{resolution: 1h, retention: 30d}]}
kafka: {brokers: ["127.0.0.1:1"]}
stream: {application_id: bench, instance_id: a}
`))
}

func newBenchGroup(dir string) (*benchGroup, error) {
	cfg, err := benchConfig()
	if err != nil {
		return nil, err
	}
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Hour).UnixMilli()
	r := rand.New(rand.NewPCG(7, 8))
	batches := make([]store.Batch, benchParts)
	owner := map[string]int{}
	for k := range benchKeys {
		ep := fmt.Sprintf("/api/v1/endpoint/%04d", k)
		group := store.AppendGroup(nil, []byte(ep))
		p := combine.Partition(combine.AppendDeltaKey(nil, "endpoint_1m", string(group)), benchParts)
		owner[ep] = int(p) % benchInstances
		hourly := aggregate.New(*cfg.Sketch.Schema, true)
		for m := range int64(benchWindowSpan) {
			a := aggregate.New(*cfg.Sketch.Schema, true)
			for range 200 {
				v := 0.002 + 0.05*r.ExpFloat64()
				a.Count++
				a.Values++
				a.Sum += v
				a.Min, a.Max = min(a.Min, v), max(a.Max, v)
				a.Sketch.Add(v)
			}
			val, err := aggregate.Value{End: t0 + (m+1)*minute, Last: t0 + (m+1)*minute - 1, Agg: a}.AppendBinary(nil)
			if err != nil {
				return nil, err
			}
			batches[p].Put(store.Key{Agg: "endpoint_1m", Group: group, Start: t0 + m*minute}, val)
			hourly.Merge(a)
		}
		val, err := aggregate.Value{End: t0 + benchWindowSpan*minute, Last: t0 + benchWindowSpan*minute - 1, Agg: hourly}.AppendBinary(nil)
		if err != nil {
			return nil, err
		}
		batches[p].Put(store.Key{Agg: store.RollupAgg("endpoint_1m", benchWindowSpan*minute), Group: group, Start: t0}, val)
	}
	var stores [benchInstances][]stream.StoreInfo
	for p := range benchParts {
		d := fmt.Sprintf("%s/p%d", dir, p)
		st, err := store.OpenRocks(d, store.RocksOptions{})
		if err != nil {
			return nil, err
		}
		batches[p].SetCheckpoint(store.Checkpoint{InputOffset: 1, StreamTime: t0 + 3*benchWindowSpan*minute, ChangelogOffsets: map[string]int64{}})
		if err := st.Write(&batches[p]); err != nil {
			return nil, err
		}
		st.Close() // flushed to table files
		if st, err = store.OpenRocks(d, store.RocksOptions{}); err != nil {
			return nil, err
		}
		stores[p%benchInstances] = append(stores[p%benchInstances], stream.StoreInfo{Partition: int32(p), Store: st})
	}
	var members staticMembers
	var lns []net.Listener
	for i := range benchInstances {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		m := api.Member{URL: "http://" + ln.Addr().String()}
		for _, s := range stores[i] {
			m.Partitions = append(m.Partitions, s.Partition)
		}
		members = append(members, m)
	}
	g := &benchGroup{t0: t0, owner: owner}
	for i := range benchInstances {
		n, err := New(Options{Config: cfg, URL: members[i].URL, Members: members})
		if err != nil {
			return nil, err
		}
		n.SetRuntime(staticRuntime{stores: stores[i]})
		go (&http.Server{Handler: n.PeerHandler()}).Serve(lns[i])
		g.nodes = append(g.nodes, n)
	}
	return g, nil
}

func benchGroupOnce(b *testing.B) *benchGroup {
	benchSetup.once.Do(func() {
		// Not b.TempDir: the group outlives this benchmark, for the next ones.
		if benchSetup.dir, benchSetup.err = os.MkdirTemp("", "kwindow-bench-"); benchSetup.err == nil {
			benchSetup.g, benchSetup.err = newBenchGroup(benchSetup.dir)
		}
	})
	if benchSetup.err != nil {
		b.Fatal(benchSetup.err)
	}
	return benchSetup.g
}

// latencies runs fn b.N times and reports the p50 and p99 of its durations.
func latencies(b *testing.B, fn func() error) {
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(ds[min(len(ds)-1, len(ds)*99/100)].Microseconds())/1000, "p99_ms")
}

var (
	benchCount = query.Measure{Kind: query.Count}
	benchP99   = query.Measure{Kind: query.Quantile, Q: 0.99}
)

// BenchmarkOneKey: one key over one hour of one-minute windows, p99 at a
// one-hour step (60 sketches merged), asked of the key's owner (local) and of
// another instance (routed: one request to the owner).
func BenchmarkOneKey(b *testing.B) {
	g := benchGroupOnce(b)
	ep := "/api/v1/endpoint/0042"
	q := query.RangeQuery{Aggregation: "endpoint_1m", Filters: []query.Matcher{{Dim: "endpoint", Op: query.Equal, Value: ep}},
		From: g.t0, To: g.t0 + benchWindowSpan*minute, Step: benchWindowSpan * minute, Measures: []query.Measure{benchCount, benchP99},
		MaxResolution: minute} // the 60 windows, not the key's hourly rollup
	for _, c := range []struct {
		name string
		node *Node
	}{{"local", g.nodes[g.owner[ep]]}, {"routed", g.nodes[(g.owner[ep]+1)%benchInstances]}} {
		b.Run(c.name, func(b *testing.B) {
			latencies(b, func() error {
				r, _, err := c.node.Range(context.Background(), q, api.ReadOptions{})
				if err == nil && (len(r.Series) != 1 || r.Series[0].Points[0].Agg.Count != 200*benchWindowSpan) {
					err = fmt.Errorf("wrong answer: %d series", len(r.Series))
				}
				return err
			})
		})
	}
}

// benchLevels are the two ways to answer an hour: its 60 one-minute windows
// per key, or one hourly rollup per key.
var benchLevels = []struct {
	name        string
	maxRes, res int64 // the query's max_resolution, the answer's resolution
}{{"windows", minute, minute}, {"rollups", 0, benchWindowSpan * minute}}

// BenchmarkAllKeys: the 1,000 keys over one hour grouped by key, count and p99
// at a one-hour step, from all three instances (two of them remote).
func BenchmarkAllKeys(b *testing.B) {
	g := benchGroupOnce(b)
	for _, l := range benchLevels {
		b.Run(l.name, func(b *testing.B) {
			q := query.RangeQuery{Aggregation: "endpoint_1m", GroupBy: []string{"endpoint"}, From: g.t0, To: g.t0 + benchWindowSpan*minute,
				Step: benchWindowSpan * minute, Measures: []query.Measure{benchCount, benchP99}, MaxResolution: l.maxRes}
			latencies(b, func() error {
				r, _, err := g.nodes[0].Range(context.Background(), q, api.ReadOptions{})
				switch {
				case err != nil:
				case len(r.Series) != benchKeys:
					err = fmt.Errorf("wrong answer: %d series", len(r.Series))
				case r.Series[0].Points[0].Agg.Count != 200*benchWindowSpan || r.Series[0].Points[0].Resolution != l.res:
					p := r.Series[0].Points[0]
					err = fmt.Errorf("wrong answer: %d events at resolution %d", p.Agg.Count, p.Resolution)
				}
				return err
			})
		})
	}
}

// BenchmarkTopK: the ten keys with the largest p99 over one hour, among 1,000
// (top-k reads the coarsest resolution that fits: the hourly rollups).
func BenchmarkTopK(b *testing.B) {
	g := benchGroupOnce(b)
	q := query.TopKQuery{Aggregation: "endpoint_1m", From: g.t0, To: g.t0 + benchWindowSpan*minute, Measure: benchP99, K: 10}
	latencies(b, func() error {
		r, _, err := g.nodes[0].TopK(context.Background(), q, api.ReadOptions{})
		if err == nil && len(r.Entries) != 10 {
			err = fmt.Errorf("wrong answer: %d entries", len(r.Entries))
		}
		return err
	})
}
