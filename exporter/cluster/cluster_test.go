package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/stream"
)

const (
	minute     = int64(60_000)
	inputParts = 6
)

// member is one exporter instance of a test group: its runtime, its query node
// and the HTTP server the others reach it at.
type member struct {
	id     string
	url    string
	node   *Node
	rt     *stream.Runtime
	srv    *http.Server
	cancel context.CancelFunc
	done   chan error
}

func memberConfig(t testing.TB, addr, id string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 5s, quantiles: [0.5, 0.99]}
  - {name: status_1m, group_by: [endpoint, status], window: {type: tumbling, size: 1m}, grace: 5s, measures: [count]}
  - {name: hop_3m, group_by: [endpoint], window: {type: hopping, size: 3m, advance: 1m}, grace: 5s, measures: [count]}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: iq, instance_id: %s, input_topic: requests, commit_interval: 50ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
`, addr, id, t.TempDir())
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func startMember(t testing.TB, addr, id string) *member {
	t.Helper()
	cfg := memberConfig(t, addr, id)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admCl.Close)
	n, err := New(Options{Config: cfg, URL: url, PeerTimeout: time.Second,
		Members: &GroupMembership{Admin: kadm.NewClient(admCl), Group: "iq", Repartition: cfg.RepartitionTopic(), MaxAge: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rt, err := stream.New(ctx, cfg, stream.Options{AdvertisedURL: url, Sink: n.Sink()})
	if err != nil {
		t.Fatal(err)
	}
	n.SetRuntime(rt)
	m := &member{id: id, url: url, node: n, rt: rt, cancel: cancel, done: make(chan error, 1),
		srv: &http.Server{Handler: n.PeerHandler()}}
	go m.srv.Serve(ln)
	go func() { m.done <- rt.Run(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

// stop shuts the member down: its API first, then the runtime (which leaves the
// group). It is idempotent.
func (m *member) stop(t testing.TB) {
	if m.cancel == nil {
		return
	}
	m.srv.Close()
	m.cancel()
	m.cancel = nil
	if err := <-m.done; err != nil {
		t.Errorf("member %s: %v", m.id, err)
	}
	m.node.Close()
}

// event is one request of the test's load, with what the expectation needs.
type event struct {
	ts       int64
	endpoint string
	status   int
	latency  float64
}

func (e event) json() []byte {
	return fmt.Appendf(nil, `{"timestamp":%d,"endpoint":%q,"method":"GET","status":%d,"region":"eu","latency_ms":%g}`,
		e.ts, e.endpoint, e.status, e.latency)
}

// exactQuantile is the q-quantile of vs as the sketch defines it: the value of
// rank ceil(q*n) in ascending order (1-based), at least rank 1.
func exactQuantile(vs []float64, q float64) float64 {
	s := slices.Clone(vs)
	sort.Float64s(s)
	r := int(math.Ceil(q * float64(len(s))))
	return s[max(r, 1)-1]
}

// TestThreeInstances runs three instances of one group on six input partitions
// and asks each the same queries: the answers are identical, and equal what the
// events sent make them (counts exactly, quantiles within the sketch's bound).
// Then one instance stops: while the group rebalances every answer is correct or
// an explicit 503, and afterwards the two left answer the same again.
func TestThreeInstances(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(inputParts, "requests"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	members := []*member{startMember(t, addr, "a"), startMember(t, addr, "b"), startMember(t, addr, "c")}

	// Five minutes of events over 12 endpoints, then one event per partition ten
	// minutes later, which closes every window of the five.
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	var events []event
	for i := range 6000 {
		events = append(events, event{ts: base + int64(i)*5*minute/6000, endpoint: fmt.Sprintf("/e%d", rng.IntN(12)),
			status: []int{200, 200, 200, 404, 500}[rng.IntN(5)], latency: math.Round(rng.ExpFloat64()*40*100) / 100})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, e := range events {
		recs = append(recs, &kgo.Record{Topic: "requests", Partition: int32(i % inputParts), Value: e.json()})
	}
	for p := range int32(inputParts) {
		recs = append(recs, &kgo.Record{Topic: "requests", Partition: p, Value: event{ts: base + 15*minute, endpoint: "/closer", status: 200, latency: 1}.json()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The expectation, from the events alone.
	type want struct {
		count uint64
		lat   []float64
	}
	exp := map[string]*want{}
	for _, e := range events {
		w := exp[e.endpoint]
		if w == nil {
			w = &want{}
			exp[e.endpoint] = w
		}
		w.count++
		w.lat = append(w.lat, e.latency)
	}
	p99 := query.Measure{Kind: query.Quantile, Q: 0.99}
	q := query.RangeQuery{Aggregation: "endpoint_1m", GroupBy: []string{"endpoint"}, Filters: []query.Matcher{{Dim: "endpoint", Op: query.NotEqual, Value: "/closer"}},
		From: base, To: base + 5*minute, Step: 5 * minute, Measures: []query.Measure{{Kind: query.Count}, p99}}
	bound := sketch.RelativeError(*members[0].node.o.Config.Sketch.Schema)
	check := func(r *query.RangeResult) error {
		if len(r.Series) != len(exp) {
			return fmt.Errorf("%d series, want %d", len(r.Series), len(exp))
		}
		for _, s := range r.Series {
			w := exp[s.Key[0]]
			if w == nil || len(s.Points) != 1 {
				return fmt.Errorf("series %v: %d points, or not expected", s.Key, len(s.Points))
			}
			pt := &s.Points[0]
			if got := uint64(pt.Value(query.Measure{Kind: query.Count})); got != w.count {
				return fmt.Errorf("%v: count %d, want %d", s.Key, got, w.count)
			}
			if !pt.Complete {
				return fmt.Errorf("%v: not complete (stream time %d, final at %d, open %d)", s.Key, r.StreamTime, pt.FinalAt, pt.Open)
			}
			// latency_ms is in milliseconds; kwindow keeps durations in seconds.
			if got, x := pt.Value(p99), exactQuantile(w.lat, 0.99)/1000; math.Abs(got-x) > bound*x+1e-12 {
				return fmt.Errorf("%v: p99 %g, exact %g, bound %.4f", s.Key, got, x, bound)
			}
		}
		return nil
	}
	// Wait until every instance answers it right.
	var answers []*query.RangeResult
	deadline := time.Now().Add(60 * time.Second)
	for _, m := range members {
		for {
			r, _, err := m.node.Range(context.Background(), q, api.ReadOptions{})
			if err == nil {
				if err = check(r); err == nil {
					answers = append(answers, r)
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %s never answered right: %v", m.id, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for i, r := range answers {
		if len(r.Partitions) != inputParts {
			t.Errorf("instance %s read partitions %v, want all %d", members[i].id, r.Partitions, inputParts)
		}
		if !sameAnswer(r, answers[0], q.Measures) {
			t.Errorf("instance %s answers differently from %s", members[i].id, members[0].id)
		}
	}
	// One key: read from its owner only, whichever instance is asked.
	one := q
	one.Filters = []query.Matcher{{Dim: "endpoint", Op: query.Equal, Value: "/e3"}}
	for _, m := range members {
		r, cov, err := m.node.Range(context.Background(), one, api.ReadOptions{})
		if err != nil {
			t.Fatalf("instance %s, one key: %v", m.id, err)
		}
		if len(r.Partitions) != 1 || len(cov.Instances) != 1 || len(r.Series) != 1 || uint64(r.Series[0].Points[0].Value(query.Measure{Kind: query.Count})) != exp["/e3"].count {
			t.Errorf("instance %s, one key: partitions %v, instances %v, series %d", m.id, r.Partitions, cov.Instances, len(r.Series))
		}
	}

	// c's API dies while c stays in the group: a query that needs c's partitions
	// answers 503 naming exactly those, after retrying, rather than hanging.
	st, err := members[2].node.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var cParts []int32
	for _, m := range st.Members {
		if m.URL == members[2].url {
			cParts = m.Partitions
		}
	}
	members[2].srv.Close()
	began := time.Now()
	_, _, err = members[0].node.Range(context.Background(), q, api.ReadOptions{})
	var ue *api.UnavailableError
	if !errors.As(err, &ue) || !slices.Equal(ue.Partitions, cParts) || len(cParts) == 0 {
		t.Errorf("with c's API down: %v; want a 503 naming c's partitions %v", err, cParts)
	} else {
		t.Logf("with c's API down: 503 after %v: %v", time.Since(began).Round(time.Millisecond), err)
	}

	// Stop c. Meanwhile a and b answer continuously: right, or 503.
	stopQueries := make(chan struct{})
	type outcome struct{ ok, unavailable, wrong int }
	results := make(chan outcome, 2)
	for _, m := range members[:2] {
		go func() {
			var o outcome
			for {
				select {
				case <-stopQueries:
					results <- o
					return
				default:
				}
				r, _, err := m.node.Range(context.Background(), q, api.ReadOptions{})
				var ue *api.UnavailableError
				switch {
				case errors.As(err, &ue):
					o.unavailable++
				case err != nil:
					t.Errorf("instance %s during the rebalance: %v", m.id, err)
					o.wrong++
				case check(r) != nil:
					t.Errorf("instance %s during the rebalance: wrong answer: %v", m.id, check(r))
					o.wrong++
				default:
					o.ok++
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	members[2].stop(t)
	// Until both survivors answer right again.
	for _, m := range members[:2] {
		for {
			r, _, err := m.node.Range(context.Background(), q, api.ReadOptions{})
			if err == nil && check(r) == nil && sameAnswer(r, answers[0], q.Measures) {
				break
			}
			if time.Now().After(deadline.Add(30 * time.Second)) {
				t.Fatalf("instance %s never answered right after c left: %v", m.id, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	close(stopQueries)
	for range 2 {
		o := <-results
		t.Logf("during the rebalance: %d right answers, %d 503s, %d wrong", o.ok, o.unavailable, o.wrong)
	}
}

// sameAnswer compares the measures of two answers point by point.
func sameAnswer(a, b *query.RangeResult, ms []query.Measure) bool {
	if len(a.Series) != len(b.Series) {
		return false
	}
	for i := range a.Series {
		x, y := a.Series[i], b.Series[i]
		if !slices.Equal(x.Key, y.Key) || len(x.Points) != len(y.Points) {
			return false
		}
		for j := range x.Points {
			for _, m := range ms {
				if x.Points[j].Value(m) != y.Points[j].Value(m) || x.Points[j].Complete != y.Points[j].Complete {
					return false
				}
			}
		}
	}
	return true
}
