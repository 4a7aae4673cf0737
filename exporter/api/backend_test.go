package api

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/query"
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

// testConfig: a tumbling 1-minute aggregation by every dimension with
// quantiles, one by endpoint with counts only, and a hopping one.
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
  - name: hop_5m
    group_by: [endpoint]
    window: {type: hopping, size: 5m, advance: 1m}
    quantiles: [0.99]
stream:
  application_id: apitest
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

// ev is a raw event as the tests' reference sees it.
type ev struct {
	t       int64
	dims    [3]string // endpoint, method, region
	status  int
	latency float64 // seconds
}

var (
	endpoints = []string{"/a", "/b", "/c", "/users"}
	methods   = []string{"GET", "POST"}
	regions   = []string{"eu-west", "eu-north", "us-east"}
)

// randomEvents returns n events over [from, from+dur).
func randomEvents(seed uint64, n int, from, dur int64) []ev {
	r := rand.New(rand.NewPCG(seed, 7))
	evs := make([]ev, n)
	for i := range evs {
		e := &evs[i]
		e.t = from + r.Int64N(dur)
		e.dims = [3]string{endpoints[r.IntN(len(endpoints))], methods[r.IntN(len(methods))], regions[r.IntN(len(regions))]}
		switch x := r.IntN(100); {
		case x < 5:
			e.status = 503
		case x < 12:
			e.status = 404
		default:
			e.status = 200
		}
		if r.IntN(20) == 0 {
			e.latency = 0.5 + 2*r.ExpFloat64()
		} else {
			e.latency = 0.005 + 0.03*r.Float64()
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
	// A negative latency stands for an event without a value.
	return &event.Event{Time: e.t, Value: e.latency, HasValue: e.latency >= 0, Status: e.status, Class: class}
}

// partitionOf routes a key as the repartition topic would: by endpoint, so
// both aggregations keep a key in one store.
func partitionOf(endpoint string, parts int) int32 {
	h := fnv.New32a()
	h.Write([]byte(endpoint))
	return int32(h.Sum32() % uint32(parts))
}

// world is stores holding the windows of events, written as a stage-2 task
// would (store.Batch, aggregate.Value), and the events for reference.
type world struct {
	cfg  *config.Config
	srcs []query.Source
	evs  []ev
}

// newWorld writes the 1-minute windows of evs for req_1m and counts_1m into
// parts memory stores, each with stream time streamTime.
func newWorld(t testing.TB, evs []ev, parts int, streamTime int64) *world {
	t.Helper()
	return newWorldOf(t, newConfig(t), evs, parts, streamTime)
}

// newWorldOf is newWorld for configuration c (testConfig's aggregations, maybe
// with rollups): the windows closed at streamTime are merged into the rollup
// windows as stage 2 merges them.
func newWorldOf(t testing.TB, c *config.Config, evs []ev, parts int, streamTime int64) *world {
	t.Helper()
	w := &world{cfg: c, evs: evs}
	type wkey struct {
		agg   string
		group string
		start int64
	}
	aggs := map[wkey]*aggregate.Aggregate{}
	lasts := map[wkey]int64{}
	for i := range evs {
		e := &evs[i]
		start := e.t - ((e.t%minute)+minute)%minute
		for _, k := range []wkey{
			{"req_1m", string(store.AppendGroup(nil, []byte(e.dims[0]), []byte(e.dims[1]), []byte(e.dims[2]))), start},
			{"counts_1m", string(store.AppendGroup(nil, []byte(e.dims[0]))), start},
		} {
			a := aggs[k]
			if a == nil {
				a = aggregate.New(sketch.DefaultSchema, k.agg == "req_1m")
				aggs[k] = a
			}
			a.Add(e.event())
			lasts[k] = max(lasts[k], e.t)
		}
	}
	batches := make([]store.Batch, parts)
	closed := make([][]engine.Change, parts)
	for k, a := range aggs {
		vals, err := store.SplitGroup([]byte(k.group))
		if err != nil {
			t.Fatal(err)
		}
		b, err := aggregate.Value{End: k.start + minute, Last: lasts[k], Agg: a}.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := partitionOf(string(vals[0]), parts)
		batches[p].Put(store.Key{Agg: k.agg, Group: []byte(k.group), Start: k.start}, b)
		if k.start+minute+10_000 <= streamTime { // closed: grace is 10s
			closed[p] = append(closed[p], engine.Change{Agg: slices.IndexFunc(c.Aggregations, func(a config.Aggregation) bool { return a.Name == k.agg }),
				Group: k.group, Start: k.start, Value: aggregate.Value{End: k.start + minute, Last: lasts[k], Agg: a}})
		}
	}
	merger := rollup.NewMerger(c)
	for i := range parts {
		st := store.NewMemory()
		t.Cleanup(func() { st.Close() })
		if err := merger.Merge(closed[i], st.Get, func(_ rollup.Level, k store.Key, _, value []byte) error {
			batches[i].Put(k, value)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.Write(&batches[i]); err != nil {
			t.Fatal(err)
		}
		w.srcs = append(w.srcs, query.Source{Partition: int32(i), Store: st, StreamTime: streamTime})
	}
	return w
}

// testBackend implements Backend over local stores, without fan-out: what a
// single instance that owns every partition answers.
type testBackend struct {
	local     *query.Local
	srcs      []query.Source
	instances []string

	mu         sync.Mutex
	restoring  map[int32]int64 // partition -> records behind
	err        error           // returned by every query
	block      bool            // queries wait for their context
	endStreams bool            // subscriptions end at once, without a test reading b.subs
	subs       chan chan StreamEvent
	subCtx     []context.Context
	subQuery   []StreamQuery
}

func newBackend(t testing.TB, w *world, lim query.Limits) *testBackend {
	t.Helper()
	l, err := query.New(w.cfg, lim)
	if err != nil {
		t.Fatal(err)
	}
	return &testBackend{local: l, srcs: w.srcs, instances: []string{"http://kwindow-0:9897"},
		subs: make(chan chan StreamEvent, 16)}
}

func (b *testBackend) sources(ctx context.Context, o ReadOptions) ([]query.Source, Coverage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.block {
		b.mu.Unlock()
		<-ctx.Done()
		b.mu.Lock()
		return nil, Coverage{}, ctx.Err()
	}
	if b.err != nil {
		return nil, Coverage{}, b.err
	}
	cov := Coverage{Instances: b.instances}
	var missing []int32
	for _, s := range b.srcs {
		behind, restoring := b.restoring[s.Partition]
		switch {
		case restoring && !o.Stale:
			missing = append(missing, s.Partition)
		case restoring:
			cov.Stale = append(cov.Stale, StalePartition{Partition: s.Partition, Behind: behind})
		}
	}
	if missing != nil {
		return nil, Coverage{}, &UnavailableError{Partitions: missing, Reason: "restoring", RetryAfter: 2500 * time.Millisecond}
	}
	return b.srcs, cov, nil
}

func (b *testBackend) Range(ctx context.Context, q query.RangeQuery, o ReadOptions) (*query.RangeResult, Coverage, error) {
	srcs, cov, err := b.sources(ctx, o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Range(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) Latest(ctx context.Context, q query.LatestQuery, o ReadOptions) (*query.LatestResult, Coverage, error) {
	srcs, cov, err := b.sources(ctx, o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Latest(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) TopK(ctx context.Context, q query.TopKQuery, o ReadOptions) (*query.TopKResult, Coverage, error) {
	srcs, cov, err := b.sources(ctx, o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.TopK(ctx, srcs, q)
	if err == nil && r.Uncut {
		r.Cut()
	}
	return r, cov, err
}

func (b *testBackend) Values(ctx context.Context, q query.ValuesQuery, o ReadOptions) (*query.ValuesResult, Coverage, error) {
	srcs, cov, err := b.sources(ctx, o)
	if err != nil {
		return nil, cov, err
	}
	r, err := b.local.Values(ctx, srcs, q)
	return r, cov, err
}

func (b *testBackend) Status(ctx context.Context) (Status, error) {
	st := Status{Instance: "http://kwindow-0:9897", InstanceID: "kwindow-0", Ready: true, Partitions: int32(len(b.srcs)),
		StreamTimes: map[int32]int64{}}
	m := Member{URL: st.Instance, InstanceID: st.InstanceID}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.srcs {
		m.Partitions = append(m.Partitions, s.Partition)
		st.StreamTimes[s.Partition] = s.StreamTime
		if _, ok := b.restoring[s.Partition]; ok {
			m.Restoring = append(m.Restoring, s.Partition)
			st.Ready, st.Reason = false, "restoring"
		}
	}
	st.Members = []Member{m}
	return st, nil
}

// set changes the backend's faults while handlers may read them.
func (b *testBackend) set(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f()
}

// Subscribe hands the test the channel of each subscription through b.subs;
// the test sends the events and closes it.
func (b *testBackend) Subscribe(ctx context.Context, s StreamQuery) (<-chan StreamEvent, error) {
	if _, err := b.local.Select(s.Aggregation, s.Filters, s.Measures); err != nil {
		return nil, err
	}
	ch := make(chan StreamEvent, 16)
	if b.endStreams {
		close(ch)
		return ch, nil
	}
	b.mu.Lock()
	b.subCtx = append(b.subCtx, ctx)
	b.subQuery = append(b.subQuery, s)
	b.mu.Unlock()
	select {
	case b.subs <- ch:
	default:
		close(ch) // nobody listens: the stream ends at once
	}
	return ch, nil
}

// server is a test server over a backend.
type server struct {
	*httptest.Server
	h   *handler
	b   *testBackend
	log *bytes.Buffer
}

func newServer(t testing.TB, b *testBackend, o Options) *server {
	t.Helper()
	if o.Config == nil {
		o.Config = newConfig(t)
	}
	var logBuf bytes.Buffer
	var mu sync.Mutex
	o.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logBuf}, nil))
	if o.Now == nil {
		o.Now = func() time.Time { return time.UnixMilli(t0 + hour) }
	}
	h, hh := newHandler(b, o)
	s := &server{Server: httptest.NewServer(hh), h: h, b: b, log: &logBuf}
	t.Cleanup(s.Close)
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// get requests path (with its query) and returns the status, headers and body.
func (s *server) get(t testing.TB, path string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	return s.do(t, http.MethodGet, path, "", nil, hdr...)
}

func (s *server) do(t testing.TB, method, path, ctype string, body []byte, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// errorOf decodes an error envelope.
func errorOf(t testing.TB, body []byte) *client.ErrorInfo {
	t.Helper()
	var env struct {
		Status string            `json:"status"`
		Error  *client.ErrorInfo `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "error" || env.Error == nil {
		t.Fatalf("not an error envelope (%v): %s", err, body)
	}
	return env.Error
}

func newClient(t testing.TB, s *server, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(s.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refPoint is the brute-force aggregate of some events.
type refPoint struct {
	count, cerr, serr uint64
	vals              []float64
}

func (p *refPoint) add(e *ev) {
	p.count++
	switch {
	case e.status >= 500:
		p.serr++
	case e.status >= 400:
		p.cerr++
	}
	if e.latency >= 0 {
		p.vals = append(p.vals, e.latency)
	}
}

// exactQuantile is the value of rank max(1, ceil(q·n)), the sketch's definition.
func exactQuantile(vals []float64, q float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	r := int(math.Ceil(q * float64(len(s))))
	r = min(max(r, 1), len(s))
	return s[r-1]
}

// withinBound reports whether got is within the sketch's relative error of want.
func withinBound(got, want float64) bool {
	return math.Abs(got-want) <= sketch.RelativeError(sketch.DefaultSchema)*math.Abs(want)+1e-15
}

func labelKey(l map[string]string, dims ...string) string {
	var parts []string
	for _, d := range dims {
		parts = append(parts, l[d])
	}
	return strings.Join(parts, "|")
}
