package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// liveCommit is one commit of 100 changed windows of endpoint_1m, encoded as the
// runtime hands them over.
func liveCommit(b *testing.B) []stream.Commit {
	c := stream.Commit{Partition: 0, StreamTime: 0}
	for k := range 100 {
		a := aggregate.New(6, true)
		for i := range 50 {
			a.Count++
			a.Values++
			a.Sketch.Add(0.001 * float64(i+1))
		}
		v, err := aggregate.Value{End: minute, Last: minute - 1, Agg: a}.AppendBinary(nil)
		if err != nil {
			b.Fatal(err)
		}
		c.Windows = append(c.Windows, stream.WindowChange{Agg: 0, Group: string(store.AppendGroup(nil, []byte(fmt.Sprintf("/e%d", k)))), Start: 0, Value: v})
	}
	return []stream.Commit{c}
}

func benchHub(b *testing.B) *Hub {
	cfg, err := benchConfig()
	if err != nil {
		b.Fatal(err)
	}
	l, err := query.New(cfg, query.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	h := newHub(cfg, l, slog.New(slog.DiscardHandler))
	b.Cleanup(h.close)
	return h
}

// BenchmarkHubCommitted is what live subscribers cost the processing loop per
// commit of 100 windows (Hub.Committed, on the runtime's goroutine): nothing
// without subscribers, one non-blocking channel send with any, however slow
// (decoding and filtering run on the hub's goroutine). The loop commits far
// faster than a runtime does, so with the stuck subscriber the hub soon falls
// behind and drops it (see TestSlowSubscriber for a real pipeline).
func BenchmarkHubCommitted(b *testing.B) {
	commits := liveCommit(b)
	for _, subs := range []string{"none", "stuck"} {
		b.Run(subs, func(b *testing.B) {
			h := benchHub(b)
			if subs == "stuck" {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if _, err := h.subscribe(ctx, api.StreamQuery{Aggregation: "endpoint_1m"}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				h.Committed(commits)
			}
		})
	}
}

// BenchmarkLiveFanout delivers a commit of 100 windows (100 keys) every 10 ms to
// N subscribers that read as fast as they can, each following one key (a live
// panel of one endpoint) or every key, and reports the updates delivered per
// second over all of them and how many subscribers were dropped.
func BenchmarkLiveFanout(b *testing.B) {
	commits := liveCommit(b)
	for _, c := range []struct {
		n      int
		oneKey bool
	}{{100, true}, {1000, true}, {10, false}, {100, false}} {
		n := c.n
		name := fmt.Sprintf("subscribers=%d/keys=all", n)
		if c.oneKey {
			name = fmt.Sprintf("subscribers=%d/keys=1", n)
		}
		b.Run(name, func(b *testing.B) {
			h := benchHub(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var mu sync.Mutex
			delivered, dropped := 0, 0
			want := b.N * len(commits[0].Windows)
			if c.oneKey {
				want = b.N
			}
			for i := range n {
				q := api.StreamQuery{Aggregation: "endpoint_1m"}
				if c.oneKey {
					q.Filters = []query.Matcher{{Dim: "endpoint", Op: query.Equal, Value: fmt.Sprintf("/e%d", i%100)}}
				}
				ch, err := h.subscribe(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					got := 0
					for ev := range ch {
						if ev.Dropped != "" {
							mu.Lock()
							dropped++
							mu.Unlock()
							break
						}
						if got++; got == want {
							break
						}
					}
					mu.Lock()
					delivered += got
					mu.Unlock()
				})
			}
			start := time.Now()
			b.ResetTimer()
			for range b.N {
				h.Committed(commits)
				time.Sleep(10 * time.Millisecond)
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cancel()
				<-done
			}
			b.StopTimer()
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(delivered)/el, "updates/s")
			b.ReportMetric(float64(dropped), "dropped")
		})
	}
}
