package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/query"
)

// newGroup starts a broker and n members of one group.
func newGroup(t *testing.T, n int) (string, []*member) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(inputParts, "requests"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	var ms []*member
	for i := range n {
		ms = append(ms, startMember(t, addr, string(rune('a'+i))))
	}
	return addr, ms
}

func produceEvents(t *testing.T, addr string, events []event) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, e := range events {
		recs = append(recs, &kgo.Record{Topic: "requests", Partition: int32(i % inputParts), Value: e.json()})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitReady waits until every member answers a query over all partitions.
func waitReady(t *testing.T, ms []*member) {
	t.Helper()
	q := query.ValuesQuery{Aggregation: "endpoint_1m", Dimension: "endpoint"}
	deadline := time.Now().Add(60 * time.Second)
	for _, m := range ms {
		for {
			_, _, err := m.node.Values(context.Background(), q, api.ReadOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %s never ready: %v", m.id, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestLiveStream subscribes on one instance of three to the updates of one
// aggregation. Every window of every partition reaches it, wherever its owner
// runs; the last update of each window carries its final count and is no longer
// partial once the window has closed.
func TestLiveStream(t *testing.T) {
	addr, ms := newGroup(t, 3)
	waitReady(t, ms)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := ms[0].node.Subscribe(ctx, api.StreamQuery{Aggregation: "endpoint_1m",
		Filters: []query.Matcher{{Dim: "endpoint", Op: query.Regexp, Value: "/e.*"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Let the peer streams open (they are followed every 2 s).
	time.Sleep(500 * time.Millisecond)
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	var events []event
	want := map[string]uint64{} // endpoint/window start -> count
	for i := range 3000 {
		e := event{ts: base + int64(i)*3*minute/3000, endpoint: fmt.Sprintf("/e%d", i%10), status: 200, latency: 5}
		events = append(events, e)
		want[fmt.Sprintf("%s@%d", e.endpoint, e.ts/minute*minute)]++
	}
	for range inputParts {
		events = append(events, event{ts: base + 10*minute, endpoint: "/closer", status: 200, latency: 1})
	}
	produceEvents(t, addr, events)
	last := map[string]*api.WindowUpdate{}
	partitions := map[int32]bool{}
	timeout := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case ev, ok := <-sub:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.Dropped != "" {
				t.Fatalf("dropped: %s", ev.Dropped)
			}
			u := ev.Update
			if !strings.HasPrefix(u.Key[0], "/e") {
				t.Fatalf("the filter let %v through", u.Key)
			}
			last[fmt.Sprintf("%s@%d", u.Key[0], u.Start)] = u
			partitions[u.Partition] = true
			done = len(last) == len(want)
			for k, n := range want {
				if u := last[k]; u == nil || u.Agg.Count != n || u.Partial {
					done = false
					break
				}
			}
		case <-timeout:
			t.Fatalf("after 60 s, %d of %d windows final in the stream", len(last), len(want))
		}
	}
	if len(partitions) < 2 {
		t.Errorf("updates came from partitions %v only: the peers' streams are missing", partitions)
	}
}

// TestLiveStreamHopping: stage 2 keeps hopping windows as panes; a live
// subscriber still gets every open window, assembled from its panes, with the
// count of the events it holds so far, and then its final count once closed.
func TestLiveStreamHopping(t *testing.T) {
	addr, ms := newGroup(t, 2)
	waitReady(t, ms)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := ms[0].node.Subscribe(ctx, api.StreamQuery{Aggregation: "hop_3m"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the peer stream opens
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	want := map[string]uint64{} // endpoint@window start -> count
	batch := func(from, to int64, n int) []event {
		var evs []event
		for i := range n {
			e := event{ts: from + int64(i)*(to-from)/int64(n), endpoint: fmt.Sprintf("/e%d", i%4), status: 200, latency: 5}
			evs = append(evs, e)
			for s := e.ts / minute * minute; s > e.ts-3*minute; s -= minute {
				want[fmt.Sprintf("%s@%d", e.endpoint, s)]++
			}
		}
		return evs
	}
	last := map[string]*api.WindowUpdate{}
	// follow reads updates until every window of want has one for which ok
	// holds.
	follow := func(ok func(k string, u *api.WindowUpdate) bool) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			done := true
			for k := range want {
				if u := last[k]; u == nil || !ok(k, u) {
					done = false
					break
				}
			}
			if done {
				return
			}
			select {
			case ev, open := <-sub:
				if !open || ev.Dropped != "" {
					t.Fatalf("the stream ended: %q", ev.Dropped)
				}
				u := ev.Update
				last[fmt.Sprintf("%s@%d", u.Key[0], u.Start)] = u
			case <-timeout:
				for k, n := range want {
					if u := last[k]; u == nil || !ok(k, u) {
						t.Fatalf("after 60 s, window %s: %+v, want %d events", k, u, n)
					}
				}
			}
		}
	}
	// Two minutes of events: at the stage-2 stream time they reach, the
	// windows starting one minute before base and later are open.
	produceEvents(t, addr, batch(base, base+2*minute, 1200))
	follow(func(k string, u *api.WindowUpdate) bool {
		if u.Start+3*minute+5000 <= base+2*minute-1 { // closed already
			return u.Agg.Count == want[k] && !u.Partial
		}
		return u.Agg.Count == want[k] && u.Partial
	})
	// The rest, then events that close every window.
	evs := batch(base+2*minute, base+3*minute, 600)
	for range inputParts {
		evs = append(evs, event{ts: base + 10*minute, endpoint: "/closer", status: 200, latency: 1})
	}
	produceEvents(t, addr, evs)
	follow(func(k string, u *api.WindowUpdate) bool { return u.Agg.Count == want[k] && !u.Partial })
}

// TestSlowSubscriber: a subscriber that never reads is dropped with a reason,
// and processing goes on: every event is counted.
func TestSlowSubscriber(t *testing.T) {
	addr, ms := newGroup(t, 1)
	waitReady(t, ms)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := ms[0].node.Subscribe(ctx, api.StreamQuery{Aggregation: "status_1m"})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	var events []event
	for i := range 30000 {
		events = append(events, event{ts: base + int64(i%3)*minute, endpoint: fmt.Sprintf("/k%d", i), status: 200, latency: 5})
	}
	produceEvents(t, addr, events)
	// Processing finishes although nobody reads.
	q := query.RangeQuery{Aggregation: "status_1m", From: base, To: base + 3*minute, Step: 3 * minute,
		Measures: []query.Measure{{Kind: query.Count}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, _, err := ms[0].node.Range(context.Background(), q, api.ReadOptions{})
		if err == nil && len(r.Series) == 1 && uint64(r.Series[0].Points[0].Value(query.Measure{Kind: query.Count})) == uint64(len(events)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every event counted with a stuck subscriber: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	n := 0
	for ev := range sub {
		if ev.Dropped != "" {
			t.Logf("dropped after %d updates: %s", n, ev.Dropped)
			if !strings.Contains(ev.Dropped, "slow consumer") {
				t.Errorf("dropped for %q", ev.Dropped)
			}
			return
		}
		n++
	}
	t.Fatalf("the stream ended after %d updates without saying it was dropped", n)
}

// BenchmarkLiveLatency runs three instances under a steady load (2,000 events
// every 100 ms, the load spread over six input partitions) and subscribes on
// one of them to every window: it reports how long after its transaction
// committed an update reached the subscriber, p50 and p99 (two thirds of the
// updates come from the other instances' stores, over their internal streams).
// Stage 2 commits every 50 ms here.
func BenchmarkLiveLatency(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(inputParts, "requests"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	var ms []*member
	for i := range 3 {
		ms = append(ms, startMember(b, addr, string(rune('a'+i))))
	}
	for _, m := range ms {
		for deadline := time.Now().Add(60 * time.Second); ; {
			if _, _, err := m.node.Values(context.Background(), query.ValuesQuery{Aggregation: "endpoint_1m", Dimension: "endpoint"}, api.ReadOptions{}); err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("not ready")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := ms[0].node.Subscribe(ctx, api.StreamQuery{Aggregation: "endpoint_1m"})
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the peer streams open
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var lat []time.Duration
	parts := map[int32]bool{}
	b.ResetTimer()
	for i := range b.N {
		var recs []*kgo.Record
		now := time.Now().UnixMilli()
		for j := range 2000 {
			recs = append(recs, &kgo.Record{Topic: "requests", Partition: int32(j % inputParts),
				Value: event{ts: now, endpoint: fmt.Sprintf("/e%d", (i+j)%50), status: 200, latency: 5}.json()})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
			select {
			case ev := <-sub:
				if ev.Dropped != "" {
					b.Fatalf("dropped: %s", ev.Dropped)
				}
				lat = append(lat, time.Since(time.UnixMilli(ev.Update.CommittedAt)))
				parts[ev.Update.Partition] = true
			case <-time.After(time.Until(end)):
			}
		}
	}
	b.StopTimer()
	if len(lat) == 0 {
		b.Fatal("no update arrived")
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(len(lat)), "updates")
	b.ReportMetric(float64(len(parts)), "partitions")
}
