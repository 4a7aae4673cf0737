package api

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/sketch"
)

// subscription waits for the Backend's next subscription channel.
func (s *server) subscription(t *testing.T) chan StreamEvent {
	t.Helper()
	select {
	case ch := <-s.b.subs:
		return ch
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription")
	}
	return nil
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestStream: updates arrive with their labels and measures, a dropped event
// ends the stream, and api.max_subscribers streams are the most one instance
// holds at once.
func TestStream(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}), Options{MaxSubscribers: 1})
	c := newClient(t, s)
	type got struct {
		ev  client.StreamEvent
		err error
	}
	events := make(chan got, 16)
	req := client.StreamRequest{Aggregation: "req_1m", Match: []client.Matcher{client.Eq("region", "eu-west")}, Measures: []string{"count", "p99", "error_ratio"}}
	go func() {
		for ev, err := range c.Stream(t.Context(), req) {
			events <- got{ev, err}
		}
		close(events)
	}()
	sub := s.subscription(t)
	if q := s.b.subQuery[0]; q.Aggregation != "req_1m" || len(q.Filters) != 1 || q.Filters[0] != (query.Matcher{Dim: "region", Op: query.Equal, Value: "eu-west"}) || len(q.Measures) != 3 {
		t.Errorf("the Backend was asked %+v", q)
	}

	// A second stream while the first is open: refused.
	for _, err := range c.Stream(t.Context(), req) {
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusServiceUnavailable || ce.Code != client.CodeUnavailable ||
			ce.Limit != "max_subscribers" || ce.RetryAfter != 5*time.Second {
			t.Errorf("a second stream: %v", err)
		}
		break
	}

	a := aggregate.New(sketch.DefaultSchema, true)
	var vals []float64
	for i := range 500 {
		e := ev{t: t0, status: 200, latency: 0.001 * float64(1+i%97)}
		if i%50 == 0 {
			e.status = 502
		}
		a.Add(e.event())
		vals = append(vals, e.latency)
	}
	up := WindowUpdate{Aggregation: "req_1m", Key: []string{"/a", "GET", "eu-west"}, Partition: 0, Start: t0, End: t0 + minute,
		Last: t0 + 59_000, Agg: a, Partial: true, CommittedAt: t0 + 61_000}
	sub <- StreamEvent{Update: &up}
	final := up
	final.Partial = false
	sub <- StreamEvent{Update: &final}
	sub <- StreamEvent{Dropped: "slow consumer: 4096 events buffered"}
	close(sub)

	var list []got
	for g := range events {
		list = append(list, g)
	}
	if len(list) != 3 {
		t.Fatalf("%d events, want 2 updates and a dropped one: %+v", len(list), list)
	}
	for i, g := range list[:2] {
		u := g.ev.Update
		if g.err != nil || u == nil {
			t.Fatalf("event %d: %+v", i, g)
		}
		if u.Labels["endpoint"] != "/a" || u.Labels["method"] != "GET" || u.Labels["region"] != "eu-west" || u.Partial != (i == 0) ||
			u.Start != client.Timestamp(t0) || u.End != client.Timestamp(t0+minute) || u.CommittedAt != client.Timestamp(t0+61_000) {
			t.Errorf("update %d: %+v", i, u)
		}
		if u.Values["count"] != 500 || u.Values["error_ratio"] != 10.0/500 || !withinBound(float64(u.Values["p99"]), exactQuantile(vals, 0.99)) {
			t.Errorf("update %d values %v; p99 exact %v", i, u.Values, exactQuantile(vals, 0.99))
		}
	}
	if last := list[2]; last.err != nil || last.ev.Dropped != "slow consumer: 4096 events buffered" {
		t.Errorf("last event: %+v", last)
	}

	// The slot is free again once the stream has ended.
	eventually(t, "the subscriber slot", func() bool { return s.h.subscribers.Load() == 0 })
	go func() {
		for range c.Stream(t.Context(), req) {
		}
	}()
	close(s.subscription(t)) // closed without a reason: the handler says it ended
}

// TestStreamEnds: a subscription the Backend closes without a reason ends
// with a dropped event; a client that goes away ends the subscription's
// context and frees its slot; heartbeats flow while nothing happens.
func TestStreamEnds(t *testing.T) {
	s := newServer(t, newBackend(t, newWorld(t, nil, 1, t0), query.Limits{}), Options{Heartbeat: 10 * time.Millisecond})
	c := newClient(t, s)
	done := make(chan []client.StreamEvent)
	go func() {
		var evs []client.StreamEvent
		for ev, err := range c.Stream(t.Context(), client.StreamRequest{Aggregation: "counts_1m"}) {
			if err != nil {
				t.Errorf("stream: %v", err)
			}
			evs = append(evs, ev)
		}
		done <- evs
	}()
	close(s.subscription(t))
	if evs := <-done; len(evs) != 1 || evs[0].Dropped != "subscription ended" {
		t.Errorf("events %+v, want one dropped", evs)
	}

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+Prefix+"stream?aggregation=counts_1m", nil)
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, ct)
	}
	s.subscription(t)
	r := bufio.NewReader(resp.Body)
	heartbeats := 0
	for heartbeats < 3 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, ": heartbeat") {
			heartbeats++
		}
	}
	cancel()
	bctx := s.b.subCtx[len(s.b.subCtx)-1]
	select {
	case <-bctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription's context did not end with the client")
	}
	eventually(t, "the subscriber slot", func() bool { return s.h.subscribers.Load() == 0 })
}
