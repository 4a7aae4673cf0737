package stream

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestConsumerLag: kwindow_consumer_lag counts the records past the group's
// committed offset, measured apart from processing: the backlog before anything is
// committed, 0 once everything is.
func TestConsumerLag(t *testing.T) {
	addr := newCluster(t)
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	produce(t, client(t, addr), tr.batch(rand.New(rand.NewPCG(1, 2)), 900))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := prometheus.NewRegistry()
	rt, err := New(ctx, cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rt.lagEvery = 50 * time.Millisecond
	// Not running yet: the group has committed offset 0 everywhere (as a group
	// that has just started has); pretend the partitions are ours and measure the
	// backlog.
	zero := kadm.Offsets{}
	for p := range int32(partitions) {
		zero.Add(kadm.Offset{Topic: input, Partition: p, At: 0})
	}
	if err := kadm.NewClient(client(t, addr)).CommitAllOffsets(ctx, cfg.Stream.ApplicationID, zero); err != nil {
		t.Fatal(err)
	}
	rt.active = []int32{0, 1, 2}
	lagCtx, stopLag := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); rt.watchLag(lagCtx, rt.lagEvery) }()
	total := func() float64 {
		var n float64
		for p := range []int{0, 1, 2} {
			n += testutil.ToFloat64(rt.metrics.lag.WithLabelValues(itoa(p)))
		}
		return n
	}
	waitFor(t, "the backlog of 900 records", func() bool { return total() == 900 })
	stopLag()
	<-done

	runDone := make(chan error, 1)
	go func() { runDone <- rt.Run(ctx) }()
	waitFor(t, "a lag of 0 once processed", func() bool {
		return testutil.ToFloat64(rt.metrics.processed) == 900 && total() == 0
	})
	cancel()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
