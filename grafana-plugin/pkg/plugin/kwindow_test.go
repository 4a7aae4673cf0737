package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

// The tests run a real kwindow query API in-process: exporter/api's handler
// over a Backend that answers from memory stores (exporter/query.Local), into
// which the windows of known events are written as a stage-2 task writes
// them. The plugin reaches it over HTTP with its client, as in Grafana.

const (
	minute = int64(60_000)
	// t0 is a round hour: windows and steps align with it.
	t0 = int64(1_795_341_600_000)
	// minutes of events written, from t0.
	minutes = 30
	// anomalyMinute is when /a in eu is slow and failing.
	anomalyMinute = 25
)

const testConfig = `
events:
  timestamp: {field: ts, unit: ms}
  value: {field: latency_ms, unit: ms}
  status: {field: status}
  dimensions:
    - name: endpoint
    - name: region
aggregations:
  - name: endpoint_1m
    group_by: [endpoint, region]
    window: {type: tumbling, size: 1m}
    grace: 10s
    retention: 48h
    quantiles: [0.5, 0.99]
  - name: region_5m
    group_by: [region]
    window: {type: tumbling, size: 5m}
    grace: 10s
    measures: [count, errors, error_ratio]
stream:
  application_id: plugintest
  input_topic: in
`

var (
	endpoints = []string{"/a", "/b"}
	regions   = []string{"eu", "us"}
)

// ev is one event as the tests' reference sees it.
type ev struct {
	t        int64
	endpoint string
	region   string
	status   int
	latency  float64 // seconds
}

// testEvents: per key and minute, n events. /a in eu is steady (20 events, no
// error, the same latencies every minute) but for anomalyMinute (half of them
// 5xx, every latency ten times longer); the other keys vary a little from
// minute to minute (20 to 22 events, one 5xx each) around the same maximum
// latency, so that no other window is an anomaly at |z| > 3.
func testEvents() []ev {
	var evs []ev
	for m := range int64(minutes) {
		for ki, e := range endpoints {
			for ri, r := range regions {
				steady := e == "/a" && r == "eu"
				n := 20
				if !steady {
					n += int((m + int64(ki) + int64(ri)) % 3)
				}
				for i := range n {
					x := ev{t: t0 + m*minute + int64(i)*(minute/int64(n)), endpoint: e, region: r, status: 200,
						latency: 0.010 + 0.490*float64(i)/float64(n-1)}
					if !steady && i == 0 {
						x.status = 503
					}
					if steady && m == anomalyMinute {
						x.latency *= 10
						if i%2 == 0 {
							x.status = 500
						}
					}
					evs = append(evs, x)
				}
			}
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
	return &event.Event{Time: e.t, Value: e.latency, HasValue: true, Status: e.status, Class: class}
}

// kwindow is an in-process kwindow API.
type kwindow struct {
	*httptest.Server
	b    *testBackend
	evs  []ev
	hits sync.Map // path -> *int, requests seen
}

// newKwindow writes the windows of testEvents into two memory stores (keys
// spread by endpoint) with the given stream time, and serves the API over
// them. tokens, when given, are required.
func newKwindow(t testing.TB, streamTime int64, tokens ...string) *kwindow {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	evs := testEvents()
	type wkey struct {
		agg   string
		group string
		start int64
	}
	aggs := map[wkey]*aggregate.Aggregate{}
	lasts := map[wkey]int64{}
	size := map[string]int64{"endpoint_1m": minute, "region_5m": 5 * minute}
	for i := range evs {
		e := &evs[i]
		for _, k := range []wkey{
			{"endpoint_1m", string(store.AppendGroup(nil, []byte(e.endpoint), []byte(e.region))), 0},
			{"region_5m", string(store.AppendGroup(nil, []byte(e.region))), 0},
		} {
			k.start = e.t - e.t%size[k.agg]
			a := aggs[k]
			if a == nil {
				a = aggregate.New(sketch.DefaultSchema, k.agg == "endpoint_1m")
				aggs[k] = a
			}
			a.Add(e.event())
			lasts[k] = max(lasts[k], e.t)
		}
	}
	const parts = 2
	batches := make([]store.Batch, parts)
	for k, a := range aggs {
		vals, err := store.SplitGroup([]byte(k.group))
		if err != nil {
			t.Fatal(err)
		}
		b, err := aggregate.Value{End: k.start + size[k.agg], Last: lasts[k], Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := 0
		if string(vals[0]) == "/b" || string(vals[0]) == "us" {
			p = 1
		}
		batches[p].Put(store.Key{Agg: k.agg, Group: []byte(k.group), Start: k.start}, b)
	}
	l, err := query.New(cfg, query.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBackend{local: l, ready: true, subs: make(chan chan api.StreamEvent, 4)}
	for i := range parts {
		st := store.NewMemory()
		t.Cleanup(func() { st.Close() })
		if err := st.Write(&batches[i]); err != nil {
			t.Fatal(err)
		}
		b.srcs = append(b.srcs, query.Source{Partition: int32(i), Store: st, StreamTime: streamTime})
	}
	o := api.Options{Config: cfg, Version: "0.1.0", Now: func() time.Time { return time.UnixMilli(t0 + minutes*minute) }}
	if len(tokens) > 0 {
		o.Auth = api.StaticTokens(tokens)
	}
	k := &kwindow{b: b, evs: evs}
	h := api.NewHandler(b, o)
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := k.hits.LoadOrStore(r.URL.Path, new(int))
		b.mu.Lock()
		*n.(*int)++
		b.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(k.Close)
	return k
}

// requests returns how many requests path has seen ("/api/v1/query_range").
func (k *kwindow) requests(path string) int {
	n, ok := k.hits.Load(path)
	if !ok {
		return 0
	}
	k.b.mu.Lock()
	defer k.b.mu.Unlock()
	return *n.(*int)
}

// testBackend implements api.Backend over local stores: what a single
// instance that owns every partition answers.
type testBackend struct {
	local *query.Local
	srcs  []query.Source
	subs  chan chan api.StreamEvent // each subscription's channel, for the test to feed

	mu     sync.Mutex
	ready  bool
	reason string
	stale  bool              // partition 1 is restoring, 7 records behind
	ctxs   []context.Context // of each subscription
}

// subCtx returns the context of the i-th subscription.
func (b *testBackend) subCtx(i int) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ctxs[i]
}

func (b *testBackend) sources(o api.ReadOptions) ([]query.Source, api.Coverage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cov := api.Coverage{Instances: []string{"http://kwindow-0:9897"}}
	if b.stale {
		if !o.Stale {
			return nil, cov, &api.UnavailableError{Partitions: []int32{1}, Reason: "restoring", RetryAfter: time.Second}
		}
		cov.Stale = []api.StalePartition{{Partition: 1, Behind: 7}}
	}
	return b.srcs, cov, nil
}

func (b *testBackend) Range(ctx context.Context, q query.RangeQuery, o api.ReadOptions) (*query.RangeResult, api.Coverage, error) {
	srcs, cov, err := b.sources(o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Range(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) Latest(ctx context.Context, q query.LatestQuery, o api.ReadOptions) (*query.LatestResult, api.Coverage, error) {
	srcs, cov, err := b.sources(o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Latest(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) TopK(ctx context.Context, q query.TopKQuery, o api.ReadOptions) (*query.TopKResult, api.Coverage, error) {
	srcs, cov, err := b.sources(o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.TopK(ctx, srcs, q)
	if err == nil && r.Uncut {
		r.Cut()
	}
	return r, cov, err
}

func (b *testBackend) Values(ctx context.Context, q query.ValuesQuery, o api.ReadOptions) (*query.ValuesResult, api.Coverage, error) {
	srcs, cov, err := b.sources(o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Values(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) Status(context.Context) (api.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := api.Status{Instance: "http://kwindow-0:9897", InstanceID: "kwindow-0", Ready: b.ready, Reason: b.reason,
		Partitions: int32(len(b.srcs)), StreamTimes: map[int32]int64{}}
	m := api.Member{URL: st.Instance, InstanceID: st.InstanceID}
	for _, s := range b.srcs {
		m.Partitions = append(m.Partitions, s.Partition)
		st.StreamTimes[s.Partition] = s.StreamTime
	}
	st.Members = []api.Member{m, {URL: "http://kwindow-1:9897", InstanceID: "kwindow-1"}}
	return st, nil
}

// Subscribe hands the test each subscription's channel through b.subs.
func (b *testBackend) Subscribe(ctx context.Context, s api.StreamQuery) (<-chan api.StreamEvent, error) {
	if _, err := b.local.Select(s.Aggregation, s.Filters, s.Measures); err != nil {
		return nil, err
	}
	ch := make(chan api.StreamEvent, 16)
	b.mu.Lock()
	b.ctxs = append(b.ctxs, ctx)
	b.mu.Unlock()
	select {
	case b.subs <- ch:
	default:
		close(ch)
	}
	return ch, nil
}

func (b *testBackend) set(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

// newDS returns a data source of urls with settings jsonData (merged over
// urls) and token.
func newDS(t testing.TB, token string, urls ...string) *Datasource {
	t.Helper()
	jd, _ := json.Marshal(map[string]any{"urls": urls, "timeoutSeconds": 5})
	d := New(backend.DataSourceInstanceSettings{UID: "kw", JSONData: jd,
		DecryptedSecureJSONData: map[string]string{"token": token}}, "test")
	t.Cleanup(d.Dispose)
	if d.settingsErr != nil {
		t.Fatal(d.settingsErr)
	}
	return d
}

// dataQuery is a query of the model over [from, to) minutes after t0.
func dataQuery(refID string, from, to int64, model map[string]any) backend.DataQuery {
	b, _ := json.Marshal(model)
	return backend.DataQuery{RefID: refID, JSON: b, Interval: time.Minute, MaxDataPoints: 1000,
		TimeRange: backend.TimeRange{From: time.UnixMilli(t0 + from*minute), To: time.UnixMilli(t0 + to*minute)}}
}

func queryData(t testing.TB, d *Datasource, qs ...backend.DataQuery) *backend.QueryDataResponse {
	t.Helper()
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ref is the brute-force aggregate of the events of one key and minute.
type ref struct {
	count, serr int
	lat         []float64
}

// reference groups the events by (endpoint, region, minute index).
func reference(evs []ev) map[string]*ref {
	m := map[string]*ref{}
	for _, e := range evs {
		k := fmt.Sprintf("%s|%s|%d", e.endpoint, e.region, (e.t-t0)/minute)
		r := m[k]
		if r == nil {
			r = &ref{}
			m[k] = r
		}
		r.count++
		if e.status >= 500 {
			r.serr++
		}
		r.lat = append(r.lat, e.latency)
	}
	return m
}

// exactQuantile is the value of rank max(1, ceil(q·n)), the sketch's definition.
func exactQuantile(vals []float64, q float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	r := min(max(int(math.Ceil(q*float64(len(s)))), 1), len(s))
	return s[r-1]
}

func withinBound(got, want float64) bool {
	return math.Abs(got-want) <= sketch.RelativeError(sketch.DefaultSchema)*math.Abs(want)+1e-12
}
