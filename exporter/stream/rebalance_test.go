package stream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kwindow/kwindow/exporter/config"
)

// instance runs a Runtime in this process until stop is called.
type instance struct {
	rt     *Runtime
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startInstance(t *testing.T, cfg *config.Config) *instance {
	t.Helper()
	return startInstanceWith(t, cfg, nil)
}

// startInstanceWith is startInstance with set applied to the runtime before it
// runs (tests shorten its timings).
func startInstanceWith(t *testing.T, cfg *config.Config, set func(*Runtime)) *instance {
	t.Helper()
	return startInstanceOpts(t, cfg, Options{}, set)
}

// startInstanceOpts is startInstanceWith with options (their Registerer is the
// instance's own).
func startInstanceOpts(t *testing.T, cfg *config.Config, opts Options, set func(*Runtime)) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	rt, err := New(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	if set != nil {
		set(rt)
	}
	in := &instance{rt: rt, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- rt.Run(ctx) }()
	return in
}

func (in *instance) stop(t *testing.T) {
	t.Helper()
	in.cancel()
	if err := <-in.done; err != nil {
		t.Errorf("instance: %v", err)
	}
}

func (in *instance) restored() float64 {
	return testutil.ToFloat64(in.rt.metrics.restored)
}

func instanceConfig(t *testing.T, addr, instanceID, stateDir string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.99]}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: app, instance_id: %s, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
`, addr, instanceID, stateDir)
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkExact reads the output topic and checks every window was published once,
// with the number of events sent for it.
func checkExact(t *testing.T, addr string, tr *traffic) {
	t.Helper()
	got := published(t, addr, "app-results", len(tr.counts))
	for id, want := range tr.counts {
		if c := got[id]; len(c) != 1 || c[0] != want {
			t.Errorf("window %s published as %v, want exactly once with %d", id, c, want)
		}
	}
	if len(got) != len(tr.counts) {
		t.Errorf("%d windows published, want %d", len(got), len(tr.counts))
	}
}

func waitReady(t *testing.T, in *instance) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok, _ := in.rt.Ready(); ok {
			return
		}
	}
	_, why := in.rt.Ready()
	t.Fatalf("not ready after 30s: %s", why)
}

// TestRebalance: a second instance joins mid-stream and later leaves; its
// partitions' state moves through the changelogs, and every count stays exact.
func TestRebalance(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	addr := newCluster(t)
	dir := t.TempDir()
	a := startInstance(t, instanceConfig(t, addr, "a", filepath.Join(dir, "a")))
	defer a.stop(t)
	waitReady(t, a)
	now := time.Now().UnixMilli()
	tr := &traffic{counts: map[string]uint64{}, base: (now - 2*3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(8, 9))
	prod := client(t, addr)
	send := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			produce(t, prod, tr.batch(rng, 500))
		}
	}
	send(3 * time.Second)
	b := startInstance(t, instanceConfig(t, addr, "b", filepath.Join(dir, "b")))
	send(4 * time.Second)
	waitReady(t, b)
	if n := len(b.rt.Partitions()); n == 0 {
		t.Fatal("the second instance got no partition")
	}
	if b.restored() == 0 {
		t.Error("the second instance restored nothing from the changelogs")
	}
	before := a.restored()
	b.stop(t)
	send(3 * time.Second)
	waitReady(t, a)
	if a.restored() == before {
		t.Error("the first instance restored nothing when the second left")
	}
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
	t.Logf("%d events, %d windows", tr.sent, len(tr.counts))
}

// TestRestoreWithoutLocalState: an instance stops, its state directory is
// deleted, and a new instance rebuilds everything from the changelogs: the
// results are the same as if nothing had happened.
func TestRestoreWithoutLocalState(t *testing.T) {
	addr := newCluster(t)
	stateDir := filepath.Join(t.TempDir(), "state")
	cfg := instanceConfig(t, addr, "a", stateDir)
	now := time.Now().UnixMilli()
	tr := &traffic{counts: map[string]uint64{}, base: (now - 2*3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(3, 1))
	prod := client(t, addr)
	for i := 0; i < 20; i++ {
		produce(t, prod, tr.batch(rng, 500))
	}
	a := startInstance(t, cfg)
	waitReady(t, a)
	// Let it process everything sent so far, then stop it and lose its disk.
	waitProcessed(t, a, float64(tr.sent))
	a.stop(t)
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		produce(t, prod, tr.batch(rng, 500))
	}
	produce(t, prod, tr.closeAll())
	b := startInstance(t, cfg)
	defer b.stop(t)
	waitReady(t, b)
	if b.restored() == 0 {
		t.Fatal("nothing restored from the changelogs")
	}
	checkExact(t, addr, tr)
}

func waitProcessed(t *testing.T, in *instance, n float64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if testutil.ToFloat64(in.rt.metrics.processed) >= n {
			return
		}
	}
	t.Fatalf("processed %v of %v records in 30s", testutil.ToFloat64(in.rt.metrics.processed), n)
}
