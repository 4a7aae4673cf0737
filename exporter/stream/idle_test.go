package stream

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
)

func outputID(endpoint string, start int64) string {
	return "endpoint_1m|endpoint=" + endpoint + "|" + strconv.FormatInt(start, 10)
}

// TestIdlePartitionCloses: events stop arriving; once the idle timeout has passed
// on the (injected) wall clock, stream time follows it and the last windows close
// and publish, though no later event ever came.
func TestIdlePartitionCloses(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	idle := config.Duration(30 * time.Second)
	cfg.Stream.IdleTimeout = &idle
	var skew atomic.Int64 // how far the fake wall clock is ahead of the real one
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }

	base := (time.Now().UnixMilli() - 3600_000) / minute * minute
	var rs []*kgo.Record
	want := map[string]uint64{}
	for i := 0; i < 300; i++ {
		ts := base + int64(i)*400 // two minutes of events: windows [base, base+1m) and [base+1m, base+2m)
		p := int32(i % partitions)
		rs = append(rs, &kgo.Record{Topic: input, Partition: p, Value: reqJSON(ts, crashEndpoints[p], 200, 3)})
		want[outputID(crashEndpoints[p], ts/minute*minute)]++
	}
	produce(t, client(t, addr), rs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var published atomic.Int64
	rt, err := New(ctx, cfg, Options{Now: now, OnResults: func(r []Result) { published.Add(int64(len(r))) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	// Only the first minute's windows close by event time (stream time reaches
	// base+2m, past base+1m+10s); the second minute waits.
	time.Sleep(2 * time.Second)
	if n := published.Load(); n != int64(partitions) {
		t.Fatalf("%d windows closed by event time, want %d", n, partitions)
	}
	// 29 s idle is not enough.
	skew.Store(int64(29 * time.Second))
	time.Sleep(time.Second)
	if n := published.Load(); n != int64(partitions) {
		t.Fatalf("%d windows closed before the idle timeout, want %d", n, partitions)
	}
	// 30 s idle plus the 10 s grace: the second minute closes.
	skew.Store(int64(41 * time.Second))
	results := consumeAll(t, addr, "app-results", len(want), 20*time.Second)
	got := map[string]uint64{}
	for _, r := range results {
		res := decodeOne(t, r)
		got[res.id()] = res.Count
	}
	for id, n := range want {
		if got[id] != n {
			t.Errorf("window %s: count %d, want %d", id, got[id], n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
